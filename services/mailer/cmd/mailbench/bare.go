package main

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/services/mailer/internal/email"
)

// bare is the reference: the same email, rendered once, sent n times over
// conns open go-mail connections in parallel (no NOOP, no RSET), with
// nothing else. It returns emails per second.
func bare(ctx context.Context, sink *smtptest.Sink, c *email.Composer, from *netmail.Address, n, conns int) (float64, error) {
	sample, err := email.Sample("session_confirmation")
	if err != nil {
		return 0, err
	}
	m, err := c.Compose(sample)
	if err != nil {
		return 0, err
	}
	client, err := gomail.NewClient(sink.Host(), gomail.WithPort(sink.Port()), gomail.WithTLSPolicy(gomail.NoTLS),
		gomail.WithoutNoop(), gomail.WithoutRset())
	if err != nil {
		return 0, fmt.Errorf("reference client: %w", err)
	}
	before := sink.Count()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			sc, err := client.DialToSMTPClientWithContext(ctx)
			if err != nil {
				fail(err)
				return
			}
			defer func() { _ = client.CloseWithSMTPClient(sc) }()
			for i := w; i < n; i += conns {
				msg, err := goMailMessage(m, from)
				if err == nil {
					err = client.SendWithSMTPClient(sc, msg)
				}
				if err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("reference loop: %w", err)
	}
	if err := sink.WaitCount(ctx, before+n); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// goMailMessage is how the mailer built its messages before it formatted
// them itself (sender.Format), kept as the reference's: a go-mail message
// with both parts, built anew for every send.
func goMailMessage(m email.Message, from *netmail.Address) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	to := m.To
	msg.ToMailAddress(&to)
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	if _, err := msg.GetRecipients(); err != nil {
		return nil, fmt.Errorf("build message %s: %w", m.MessageID, err)
	}
	return msg, nil
}

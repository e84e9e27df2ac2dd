package sender

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/textproto"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/acube/platform/services/mailer/internal/email"
)

// TLS modes of SMTPConfig.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	// Host and Port of the server (required).
	Host string
	Port int
	// Username and Password enable SMTP AUTH (the best mechanism the
	// server offers); an empty Username means no AUTH.
	Username string
	Password string
	// TLS is none, starttls (required, never opportunistic) or tls
	// (implicit TLS, as on port 465) [none].
	TLS string
	// TLSConfig overrides the TLS settings, e.g. a private CA [system roots].
	TLSConfig *tls.Config
	// Timeout bounds dialing and each SMTP command [15s].
	Timeout time.Duration
	// SendTimeout bounds one email from the moment a connection's worker
	// has taken it: when it passes, the connection is closed and the send
	// fails (transient). Waiting for a connection does not use it up [20s,
	// inside the consumers' 30 s AckWait].
	SendTimeout time.Duration
	// Conns is how many connections are kept open and reused [2].
	Conns int
}

func (c *SMTPConfig) setDefaults() {
	if c.TLS == "" {
		c.TLS = TLSNone
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.Conns <= 0 {
		c.Conns = 2
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 20 * time.Second
	}
}

// SMTP sends over a small pool of SMTP connections that stay open between
// emails. Each connection has a worker that takes one email at a time
// from Send, and redials after a network error. go-mail dials each
// connection (EHLO, STARTTLS or implicit TLS, AUTH); the mail transactions
// on it are the sender's own, from a message formatted in one buffer
// (Format). With a server that offers PIPELINING (RFC 2920) a transaction
// costs one round trip: a worker writes MAIL, RCPT and DATA of the next
// email behind the content of the one under way, and reads its replies
// with the reply to that content (see run).
type SMTP struct {
	client      *gomail.Client
	from        *netmail.Address
	log         *slog.Logger
	timeout     time.Duration
	sendTimeout time.Duration
	// jobs hands an email to a connection's worker; it is unbuffered, so a
	// job sent is a job taken.
	jobs chan *job
	// bufs holds *bytes.Buffer for formatted messages.
	bufs sync.Pool
	// ignore names extensions not to use even when offered (tests).
	ignore map[string]bool

	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	workers  sync.WaitGroup
	mu       sync.Mutex
	quitErrs []error // from the workers' QUITs
}

// NewSMTP configures the pool and starts a worker per connection; the
// connections are dialed on first use. Close stops the workers.
func NewSMTP(cfg SMTPConfig, from *netmail.Address, log *slog.Logger) (*SMTP, error) {
	cfg.setDefaults()
	if err := checkPath(from.Address); err != nil {
		return nil, fmt.Errorf("smtp sender address: %w", err)
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
	}
	switch cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("smtp tls mode %q: want none, starttls or tls", cfg.TLS)
	}
	if cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(cfg.TLSConfig))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configure smtp client for %s: %w", cfg.Host, err)
	}
	s := &SMTP{client: client, from: from, log: log.With("component", "smtp"), timeout: cfg.Timeout,
		sendTimeout: cfg.SendTimeout, jobs: make(chan *job),
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}, stop: make(chan struct{})}
	for range cfg.Conns {
		s.workers.Go(s.work)
	}
	return s, nil
}

// Send delivers m on a pooled connection. ctx bounds the wait for a
// connection's worker: a send that never got one was not attempted. Once
// a worker has it, the send runs to its end under SendTimeout, which
// starts then, and not under ctx's cancellation: cutting an email short on
// shutdown would only make its redelivery send it again. When the
// deadline passes the connection is closed, which ends the SMTP command
// under way.
//
// The message is formatted before it goes to a worker, so the connections
// spend their time on the wire. No NOOP precedes it and no RSET follows a
// success: a connection the server has closed shows at MAIL FROM, and the
// worker redials and sends again then, since the server had answered
// nothing and cannot have taken the message.
func (s *SMTP) Send(ctx context.Context, m email.Message) (Receipt, error) {
	if err := checkPath(m.To.Address); err != nil {
		return Receipt{}, &Error{Kind: KindPermanent, Err: fmt.Errorf("build message %s: %w", m.MessageID, err)}
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf) // after the worker's answer: it is done with it then
	if err := Format(buf, m, s.from, time.Now()); err != nil {
		return Receipt{}, &Error{Kind: KindPermanent, Err: fmt.Errorf("build message %s: %w", m.MessageID, err)}
	}
	j := &job{env: envelope{from: s.from.Address, to: m.To.Address, data: buf.Bytes()}, done: make(chan result, 1)}
	select {
	case s.jobs <- j:
	case <-ctx.Done():
		return Receipt{}, &Error{Kind: KindTransient, Err: fmt.Errorf("wait for an smtp connection: %w", ctx.Err())}
	case <-s.stop:
		return Receipt{}, &Error{Kind: KindTransient, Err: errors.New("wait for an smtp connection: sender closed")}
	}
	r := <-j.done
	if r.err != nil {
		return Receipt{}, r.err
	}
	return Receipt{Response: r.reply}, nil
}

// Close stops the workers once each has finished the email in hand, and
// ends their connections with QUIT. Call it after the consumers have
// stopped; a Send waiting for a worker then fails as transient.
func (s *SMTP) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.workers.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := errors.Join(s.quitErrs...); err != nil {
		return fmt.Errorf("close smtp connections: %w", err)
	}
	return nil
}

// classify turns a send error into an *Error: a 5xx reply is permanent,
// any other reply (4xx, or one out of step) and no reply at all (network,
// timeout) transient.
func classify(err error) *Error {
	code := replyCode(err)
	if code >= 500 {
		return &Error{Kind: KindPermanent, Code: code, Err: err}
	}
	return &Error{Kind: KindTransient, Code: code, Err: err}
}

// replyCode digs the SMTP reply code out of err, or 0.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

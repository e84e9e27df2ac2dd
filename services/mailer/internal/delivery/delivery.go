// Package delivery is the mailer's consumer side: the consume.BatchHandler
// that turns each event of a batch into at most one email per recipient,
// the consumers it runs on (one per stream) and the email metrics.
//
// Exactly once in effect: the handler runs in the consumer's transaction,
// which also records the events' ids. It first inserts the delivery rows
// (event id, recipient) of the whole batch, so a concurrent redelivery
// blocks on its row and then finds it, then sends, deletes the rows of the
// emails the server refused, and the runner commits. A redelivery after
// the commit finds the event id and sends nothing. The one window left is
// a crash (or a failed commit) after the SMTP server accepted an email and
// before the commit: the transaction rolls back and the redelivery sends
// again, with the same Message-ID, so the duplicate is recognisable.
// Closing it would need the SMTP server to take part in the transaction,
// which it cannot. A batch widens the window to the emails of the batch,
// not its likelihood.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
	"github.com/acube/platform/services/mailer/internal/store"
)

// Handler sends the email an event calls for.
type Handler struct {
	composer *email.Composer
	sender   sender.Sender
	limiter  *rate.Limiter
	m        *Metrics
	log      *slog.Logger
}

// New builds the handler. limiter caps the sending rate; nil means no cap.
func New(composer *email.Composer, snd sender.Sender, limiter *rate.Limiter, m *Metrics, log *slog.Logger) *Handler {
	return &Handler{composer: composer, sender: snd, limiter: limiter, m: m,
		log: log.With("component", "delivery")}
}

// HandleBatch is a consume.BatchHandler: it composes each event's email,
// claims their delivery rows in tx in one statement (skipping the emails
// sent before), and sends the claimed ones at once over the sender's
// pooled connections, each after waiting for the rate limiter. It deletes
// the rows of the emails that failed, so the runner commits the others.
// Events that cannot make an email and 5xx refusals are permanent; 4xx
// refusals and network failures are retried by the runner.
func (h *Handler) HandleBatch(ctx context.Context, tx pgx.Tx, msgs []consume.Message) []error {
	errs := make([]error, len(msgs))
	var (
		idx []int // positions in msgs of the composed emails
		ms  []email.Message
		ds  []store.Delivery
	)
	for i, msg := range msgs {
		m, err := h.composer.Compose(msg.Event)
		if err != nil {
			h.m.failures.WithLabelValues("none", KindInvalid).Inc()
			errs[i] = consume.Permanent(err)
			continue
		}
		idx, ms = append(idx, i), append(ms, m)
		ds = append(ds, store.Delivery{EventID: m.EventID, Recipient: m.To.Address,
			EventType: m.EventType, Template: m.Template, MessageID: m.MessageID})
	}
	if len(ds) == 0 {
		return errs
	}
	claimed, err := store.ClaimAll(ctx, tx, ds)
	if err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return errs
	}

	// Sends not started when three quarters of the batch's time are gone
	// are given up (transient, retried), so the rest of the time is left
	// to the sends under way, the release and the commit: the emails that
	// went out are committed instead of sent again after a timeout.
	sendCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Until(deadline)/4))
		defer cancel()
	}
	var wg sync.WaitGroup
	for k, i := range idx {
		if !claimed[k] {
			h.logEmail(ctx, slog.LevelInfo, "email already sent; skipping", msgs[i], ms[k])
			continue
		}
		wg.Go(func() { errs[i] = h.send(sendCtx, msgs[i], ms[k]) })
	}
	wg.Wait()

	var refused []store.Delivery
	for k, i := range idx {
		if claimed[k] && errs[i] != nil {
			refused = append(refused, ds[k])
		}
	}
	if len(refused) == 0 {
		return errs
	}
	if err := store.Release(ctx, tx, refused); err != nil {
		// tx cannot commit now: every email of the batch is retried, and
		// those sent are sent again, with their Message-IDs.
		for _, i := range idx {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// send waits for the rate limiter and hands m to the sender.
func (h *Handler) send(ctx context.Context, msg consume.Message, m email.Message) error {
	if h.limiter != nil {
		if err := h.limiter.Wait(ctx); err != nil {
			h.m.failures.WithLabelValues(m.Template, sender.KindTransient).Inc()
			return fmt.Errorf("wait for the sending rate: %w", err)
		}
	}
	start := time.Now()
	receipt, err := h.sender.Send(ctx, m)
	h.m.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		kind := sender.Kind(err)
		h.m.failures.WithLabelValues(m.Template, kind).Inc()
		err = fmt.Errorf("send %s email for event %s: %w", m.Template, m.EventID, err)
		if kind == sender.KindPermanent {
			return consume.Permanent(err)
		}
		return err
	}
	h.m.sent.WithLabelValues(m.Template).Inc()
	// Debug: the deliveries row is the record of every email sent, and a
	// line per email costs a tenth of the mailer's CPU at full speed.
	// Failures are logged by the consumer, with the SMTP reply.
	h.logEmail(ctx, slog.LevelDebug, "email sent", msg, m, slog.String("smtp_response", receipt.Response))
	return nil
}

// logEmail logs one line about m, naming its event and message.
func (h *Handler) logEmail(ctx context.Context, level slog.Level, text string, msg consume.Message, m email.Message, attrs ...slog.Attr) {
	if !h.log.Enabled(ctx, level) {
		return
	}
	h.log.LogAttrs(ctx, level, text, append([]slog.Attr{slog.String("subject", msg.Subject),
		slog.String("event_id", m.EventID.String()), slog.Uint64("delivery", msg.Delivery),
		slog.String("template", m.Template), slog.String("message_id", m.MessageID)}, attrs...)...)
}

// Package delivery is the mailer's consumer side: the consume.Handler that
// turns one event into at most one email per recipient, the consumers it
// runs on (one per stream) and the email metrics.
//
// Exactly once in effect: the handler runs in the consumer's transaction,
// which also records the event id. It first inserts the delivery row
// (event id, recipient), so a concurrent redelivery blocks on that row and
// then finds it, then sends, then commits. A redelivery after the commit
// finds the event id and sends nothing. The one window left is a crash (or
// a failed commit) after the SMTP server accepted the email and before the
// commit: the transaction rolls back and the redelivery sends again, with
// the same Message-ID, so the duplicate is recognisable. Closing it would
// need the SMTP server to take part in the transaction, which it cannot.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
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

// Handle is a consume.Handler: it composes the email, claims its delivery
// row in tx, waits for the rate limiter and sends; the runner commits.
// Events that cannot make an email and 5xx refusals are permanent; 4xx
// refusals and network failures are retried by the runner.
func (h *Handler) Handle(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
	m, err := h.composer.Compose(msg.Event)
	if err != nil {
		h.m.failures.WithLabelValues("none", KindInvalid).Inc()
		return consume.Permanent(err)
	}
	log := h.log.With("subject", msg.Subject, "event_id", m.EventID.String(), "delivery", msg.Delivery,
		"template", m.Template, "message_id", m.MessageID)
	claimed, err := store.Claim(ctx, tx, store.Delivery{EventID: m.EventID, Recipient: m.To.Address,
		EventType: m.EventType, Template: m.Template, MessageID: m.MessageID})
	if err != nil {
		return err
	}
	if !claimed {
		log.InfoContext(ctx, "email already sent; skipping")
		return nil
	}
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
	log.InfoContext(ctx, "email sent", "smtp_response", receipt.Response)
	return nil
}

// Package delivery is the mailer's consumer side: the consume.Effect that
// turns each event into at most one email per recipient, the consumers it
// runs on (one per stream) and the email metrics.
//
// Exactly once in effect, as far as SMTP allows: the runner looks the
// event up in its inbox (an event recorded before sends nothing), Send
// composes and sends the email, and Record writes its delivery row in the
// runner's group commit, with the event id, right after the server
// accepted it; the message is acknowledged once that commit returns. One
// aggregate's events are handled one at a time, in order, by one replica
// (libs/consume), so no two deliveries of one event are ever sent at once.
// The one window left is a crash (or a database outage longer than the
// runner's record budget) after the SMTP server accepted an email and
// before its group commit: the redelivery sends it again, with the same
// Message-ID, so the duplicate is recognisable. The window is per email:
// the commit follows each send within milliseconds, whatever the batch
// (docs/events/mailer.md gives the figures). Closing it would need the
// SMTP server to take part in the transaction, which it cannot.
package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
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
	// rendering admits one rendering per CPU at once (see Send).
	rendering chan struct{}
	// pool and ackLimit cap the acknowledgements per recipient (see
	// LimitRecipients); a nil pool means no cap.
	pool     *pgxpool.Pool
	ackLimit store.Limit
}

// New builds the handler. limiter caps the sending rate; nil means no cap.
func New(composer *email.Composer, snd sender.Sender, limiter *rate.Limiter, m *Metrics, log *slog.Logger) *Handler {
	return &Handler{composer: composer, sender: snd, limiter: limiter, m: m,
		log: log.With("component", "delivery"), rendering: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// LimitRecipients caps the acknowledgements (Acknowledgement) one
// recipient gets at l, counted in pool's recipient_acks, shared by every
// replica; emails over the cap are suppressed: not sent, logged without
// the address, counted in emails_suppressed_total, and their events
// acknowledged. Call it before Effect. It returns h.
func (h *Handler) LimitRecipients(pool *pgxpool.Pool, l store.Limit) *Handler {
	if l.Max > 0 {
		h.pool, h.ackLimit = pool, l
	}
	return h
}

// Acknowledgement reports whether events of type t make an acknowledgement:
// the email a public form causes, to whatever address the form names
// (issue 13, finding 9). Emails an admin's action causes (status changes,
// promotions, reschedules, cancellations, invitations, reports) and the
// booker's own cancellation through a manage link are not.
func Acknowledgement(t string) bool {
	switch t {
	case events.TypeSessionBooked, events.TypeEventRegistered, events.TypeEventWaitlisted,
		events.TypeEventAlreadyRegistered, events.TypeVolunteerApplied, events.TypeContactReceived:
		return true
	}
	return false
}

// acknowledgementTemplates are the templates of the Acknowledgement events.
func acknowledgementTemplates() []string {
	return []string{"session_confirmation", "event_registration", "event_waitlisted",
		"event_already_registered", "volunteer_application_received", "contact_acknowledgment"}
}

// Effect is the runner's view of the handler: Send each event's email,
// Record the accepted ones.
func (h *Handler) Effect() consume.Effect[store.Delivery] {
	return consume.Effect[store.Delivery]{Do: h.Send, Record: store.Record}
}

// Send composes the email msg calls for, checks an acknowledgement against
// the recipient limit (one statement; over the limit it returns a
// suppressed delivery, which Record skips), waits for the rate limiter and
// hands it to the sender, and returns its delivery row for Record. Events
// that cannot make an email and 5xx refusals are permanent; 4xx refusals,
// network failures and a shutdown before the send began are transient.
// ctx bounds the waits; the sender bounds the send itself.
func (h *Handler) Send(ctx context.Context, msg consume.Message) (store.Delivery, error) {
	// The runner starts a batch's Sends at once. Rendered all at once they
	// would queue up on the CPUs ahead of the SMTP connections' workers,
	// whose every reply from the server waits for a CPU; rendered one per
	// CPU, they take turns and the workers get a CPU when their replies
	// come in (docs/benchmarks-mailer.md).
	select {
	case h.rendering <- struct{}{}:
	case <-ctx.Done():
		return store.Delivery{}, fmt.Errorf("wait to render the email: %w", ctx.Err())
	}
	m, err := func() (email.Message, error) {
		defer func() { <-h.rendering }()
		return h.composer.Compose(msg.Event)
	}()
	if err != nil {
		h.m.failures.WithLabelValues("none", KindInvalid).Inc()
		return store.Delivery{}, consume.Permanent(err)
	}
	if h.pool != nil && Acknowledgement(m.EventType) {
		ok, err := store.ClaimAck(ctx, h.pool, m.To.Address, m.EventID, h.ackLimit)
		if err != nil {
			h.m.failures.WithLabelValues(m.Template, sender.KindTransient).Inc()
			return store.Delivery{}, err
		}
		if !ok {
			h.m.suppressed.WithLabelValues(m.Template, ReasonRecipientLimit).Inc()
			// Info, without the address: a flood of these is an attack
			// on someone's mailbox, and the log must not name the victim.
			h.logEmail(ctx, slog.LevelInfo, "email suppressed: recipient limit reached", msg, m,
				slog.String("reason", ReasonRecipientLimit))
			return store.Delivery{EventID: m.EventID, Recipient: m.To.Address, EventType: m.EventType,
				Template: m.Template, Suppressed: true}, nil
		}
	}
	if h.limiter != nil {
		if err := h.limiter.Wait(ctx); err != nil {
			h.m.failures.WithLabelValues(m.Template, sender.KindTransient).Inc()
			return store.Delivery{}, fmt.Errorf("wait for the sending rate: %w", err)
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
			return store.Delivery{}, consume.Permanent(err)
		}
		return store.Delivery{}, err
	}
	h.m.sent.WithLabelValues(m.Template).Inc()
	// Debug: the deliveries row is the record of every email sent, and a
	// line per email costs a tenth of the mailer's CPU at full speed.
	// Failures are logged by the consumer, with the SMTP reply.
	h.logEmail(ctx, slog.LevelDebug, "email sent", msg, m, slog.String("smtp_response", receipt.Response))
	return store.Delivery{EventID: m.EventID, Recipient: m.To.Address, EventType: m.EventType,
		Template: m.Template, MessageID: m.MessageID}, nil
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

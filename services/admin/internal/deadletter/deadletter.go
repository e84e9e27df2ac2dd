// Package deadletter lets an admin list, inspect, replay and discard the
// messages consumers gave up on (libs/consume puts them on the DEADLETTER
// stream with Acube-* headers). Replay republishes the original body to
// its original subject under a new Nats-Msg-Id, so the stream's duplicate
// window lets it through; the event id inside is unchanged, so consumers
// that applied it before skip it. Each action is audited.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/audit"
)

// Entity is the audit entity of dead letters.
const Entity = "dead_letter"

// Errors the HTTP layer maps to statuses.
var (
	ErrNotFound   = errors.New("dead letter not found")
	ErrNoSubject  = errors.New("dead letter has no usable original subject")
	ErrBadFilter  = errors.New("consumer filter must be a consumer name")
	consumerToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// Letter is one dead-lettered message.
type Letter struct {
	Seq             uint64          `json:"seq"`
	Consumer        string          `json:"consumer"`
	OriginalSubject string          `json:"original_subject"`
	OriginalStream  string          `json:"original_stream"`
	OriginalSeq     uint64          `json:"original_seq"`
	Attempts        int             `json:"attempts"`
	Error           string          `json:"error"`
	FailedAt        time.Time       `json:"failed_at"`
	EventID         string          `json:"event_id,omitempty"`
	EventType       string          `json:"event_type,omitempty"`
	Event           json.RawMessage `json:"event,omitempty"` // only when inspected
	data            []byte
}

// Actor is the admin acting on dead letters.
type Actor struct {
	ID, Email, ClientIP string
}

// Store writes the replayed message and the audit event in one transaction.
type Store interface {
	// Replay queues payload for publication on subject under msgID, with
	// the audit event, atomically (through the outbox).
	Replay(ctx context.Context, msgID uuid.UUID, subject string, payload []byte, auditEv events.Event) error
	// Discard runs del and, when it succeeds, commits the audit event.
	Discard(ctx context.Context, auditEv events.Event, del func(context.Context) error) error
}

// Service reads the dead-letter stream.
type Service struct {
	js    jetstream.JetStream
	store Store
	now   func() time.Time
	log   *slog.Logger
}

// Option configures a Service.
type Option func(*Service)

// WithLogger makes the service write the "BACKGROUND JOB" lines of
// replays (README.md, "Following the logs") to log; without it they are
// dropped.
func WithLogger(log *slog.Logger) Option {
	return func(s *Service) { s.log = log.With("component", "dead_letters") }
}

// NewService returns the dead-letter service.
func NewService(js jetstream.JetStream, store Store, now func() time.Time, opts ...Option) *Service {
	s := &Service{js: js, store: store, now: now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) stream(ctx context.Context) (jetstream.Stream, error) {
	st, err := s.js.Stream(ctx, consume.DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open dead-letter stream: %w", err)
	}
	return st, nil
}

// List returns up to limit letters with a sequence above after, oldest
// first, optionally only those of one consumer, and the sequence to pass
// as after for the next page (0 when there is none).
func (s *Service) List(ctx context.Context, consumer string, after uint64, limit int) ([]Letter, uint64, error) {
	filter := consume.DeadLetterPrefix + ">"
	if consumer != "" {
		if !consumerToken.MatchString(consumer) {
			return nil, 0, ErrBadFilter
		}
		filter = consume.DeadLetterPrefix + consumer
	}
	st, err := s.stream(ctx)
	if errors.Is(err, ErrNotFound) {
		return []Letter{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	out := make([]Letter, 0, limit)
	seq := after + 1
	for len(out) < limit+1 {
		// Direct reads by "next message at or after seq on subject": no
		// consumer is created, so listing leaves no state on the server.
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read dead letter at %d: %w", seq, err)
		}
		out = append(out, parse(m))
		seq = m.Sequence + 1
	}
	var next uint64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Seq
	}
	return out, next, nil
}

// Get returns one letter with its event body.
func (s *Service) Get(ctx context.Context, seq uint64) (Letter, error) {
	st, err := s.stream(ctx)
	if err != nil {
		return Letter{}, err
	}
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Letter{}, ErrNotFound
	}
	if err != nil {
		return Letter{}, fmt.Errorf("read dead letter %d: %w", seq, err)
	}
	if !strings.HasPrefix(m.Subject, consume.DeadLetterPrefix) {
		return Letter{}, ErrNotFound
	}
	l := parse(m)
	// What an admin reads is redacted (manage links, tokens); replay uses
	// l.data, the original bytes.
	l.Event = redactJSON(m.Data)
	return l, nil
}

// The seed's runbook phrase: operators grep "BACKGROUND JOB" to follow
// background work, of which a replay is the start.
const (
	msgJobStarted   = "BACKGROUND JOB started"
	msgJobCompleted = "BACKGROUND JOB completed"
	msgJobFailed    = "BACKGROUND JOB failed"
	jobKind         = "dead_letter_replay"
)

// Replay republishes letter seq to its original subject (through the
// outbox, atomically with its audit event) and then removes it from the
// dead-letter stream. It returns the new message id. It logs
// "BACKGROUND JOB" lines: completed means the message is queued for its
// consumer again, whose own log and metrics tell how it fares.
func (s *Service) Replay(ctx context.Context, actor Actor, seq uint64) (Letter, uuid.UUID, error) {
	start := s.now()
	log := s.log.With("job_id", strconv.FormatUint(seq, 10), "kind", jobKind, "entity", Entity)
	l, msgID, err := s.replay(ctx, log, actor, seq)
	took := s.now().Sub(start).Milliseconds()
	switch {
	case errors.Is(err, ErrNotFound):
		// Nothing started: the request named no letter.
	case err != nil:
		log.ErrorContext(ctx, msgJobFailed, "error", err.Error(), "will_retry", false, "duration_ms", took)
	default:
		log.InfoContext(ctx, msgJobCompleted, "replayed_as", msgID.String(), "duration_ms", took)
	}
	return l, msgID, err
}

func (s *Service) replay(ctx context.Context, log *slog.Logger, actor Actor, seq uint64) (Letter, uuid.UUID, error) {
	l, err := s.Get(ctx, seq)
	if err != nil {
		return Letter{}, uuid.Nil, err
	}
	log.InfoContext(ctx, msgJobStarted, "consumer", l.Consumer, "original_subject", l.OriginalSubject,
		"event_id", l.EventID, "event_type", l.EventType, "attempts", l.Attempts, "requested_by", actor.ID)
	if l.OriginalSubject == "" || strings.HasPrefix(l.OriginalSubject, consume.DeadLetterPrefix) ||
		strings.ContainsAny(l.OriginalSubject, "*> ") {
		return Letter{}, uuid.Nil, ErrNoSubject
	}
	msgID, err := uuid.NewV7()
	if err != nil {
		return Letter{}, uuid.Nil, fmt.Errorf("new message id: %w", err)
	}
	ev, err := s.auditEvent(actor, "replay", l, map[string]any{"replayed_as": msgID.String()})
	if err != nil {
		return Letter{}, uuid.Nil, err
	}
	if err := s.store.Replay(ctx, msgID, l.OriginalSubject, l.data, ev); err != nil {
		return Letter{}, uuid.Nil, fmt.Errorf("replay dead letter %d: %w", seq, err)
	}
	// The replay is committed; removing the letter is tidying. If it
	// fails, a second replay is harmless: consumers skip applied events.
	if st, err := s.stream(ctx); err == nil {
		_ = st.DeleteMsg(ctx, seq)
	}
	return l, msgID, nil
}

// Discard deletes letter seq; the audit event commits only if the
// deletion succeeded.
func (s *Service) Discard(ctx context.Context, actor Actor, seq uint64) (Letter, error) {
	l, err := s.Get(ctx, seq)
	if err != nil {
		return Letter{}, err
	}
	st, err := s.stream(ctx)
	if err != nil {
		return Letter{}, err
	}
	ev, err := s.auditEvent(actor, "discard", l, nil)
	if err != nil {
		return Letter{}, err
	}
	err = s.store.Discard(ctx, ev, func(ctx context.Context) error {
		err := st.DeleteMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return Letter{}, fmt.Errorf("discard dead letter %d: %w", seq, err)
	}
	return l, nil
}

func (s *Service) auditEvent(actor Actor, action string, l Letter, extra map[string]any) (events.Event, error) {
	changes := map[string]any{"consumer": l.Consumer, "original_subject": l.OriginalSubject,
		"original_stream": l.OriginalStream, "original_seq": l.OriginalSeq, "event_id": l.EventID, "error": l.Error}
	for k, v := range extra {
		changes[k] = v
	}
	rec := events.AuditRecord{ActorID: actor.ID, ActorEmail: actor.Email, Action: action, Entity: Entity,
		EntityID: strconv.FormatUint(l.Seq, 10), ClientIP: actor.ClientIP, Changes: audit.Changes(changes),
		OccurredAt: s.now().UTC()}
	return rec.Event("admin")
}

func parse(m *jetstream.RawStreamMsg) Letter {
	h := m.Header
	l := Letter{Seq: m.Sequence, Consumer: h.Get(consume.HeaderConsumer), OriginalSubject: h.Get(consume.HeaderOriginalSubject),
		OriginalStream: h.Get(consume.HeaderOriginalStream), Error: redactString(h.Get(consume.HeaderError)), data: m.Data}
	l.OriginalSeq, _ = strconv.ParseUint(h.Get(consume.HeaderOriginalSeq), 10, 64)
	l.Attempts, _ = strconv.Atoi(h.Get(consume.HeaderAttempts))
	l.FailedAt, _ = time.Parse(time.RFC3339Nano, h.Get(consume.HeaderFailedAt))
	if l.FailedAt.IsZero() {
		l.FailedAt = m.Time
	}
	if ev, err := events.Decode(m.Data); err == nil {
		l.EventID, l.EventType = ev.ID.String(), ev.Type
	}
	return l
}

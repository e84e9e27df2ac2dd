package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/events"
)

// Run feeds r from the admin.sessions.revoked events until ctx ends, and
// then returns nil. It reads them with a JetStream ordered consumer (an
// ephemeral, server-side consumer the library recreates after a
// reconnect, so there is no durable state to clean up), starting
// MaxTokenAge + Leeway back: every revocation that can still refuse a
// token, so a restarted replica rebuilds the set from the stream. Events
// arrive as they are published, so a revocation applies within a second.
//
// r becomes current once the consumer has delivered everything it had
// pending, and stops being current when the connection has been down for
// MaxStale or the server's heartbeats stop; meanwhile Check refuses with
// ErrRevocationsUnknown. A missing stream or a NATS outage at start is
// retried, not returned.
//
// The service's NATS identity needs, on Stream (ADMIN): consumer create
// with filter admin.sessions.revoked, consumer info, next and delete on
// any consumer name (stream.Read in libs/stream).
func (r *Revocations) Run(ctx context.Context, js jetstream.JetStream) error {
	f := &feed{r: r}
	cc, err := f.start(ctx, js)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer cc.Stop()
	r.cfg.Log.Info("token revocation feed started", "stream", r.cfg.Stream,
		"subject", events.TypeSessionsRevoked, "since", f.since.Format(time.RFC3339))

	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	lastPrune := r.cfg.Now()
	for {
		now := r.cfg.Now()
		f.watch(ctx, js.Conn(), now)
		if now.Sub(lastPrune) >= time.Second {
			r.prune(now)
			lastPrune = now
		}
		select {
		case <-ctx.Done():
			r.current.Store(false) // quietly: the service is stopping
			r.m.current.Set(0)
			return nil
		case <-t.C:
		}
	}
}

// feed is the state of one Run.
type feed struct {
	r     *Revocations
	since time.Time
	cons  jetstream.Consumer

	mu sync.Mutex
	// consumer and seq are the name and consumer sequence of the last
	// message applied, to tell whether the consumer's backlog is ours.
	consumer string
	seq      uint64
	// caughtUp is true once the backlog was seen empty, until the feed
	// goes stale.
	caughtUp bool
	// downSince is when the connection was first seen down (zero: up).
	downSince time.Time
}

// start creates the ordered consumer and starts consuming, retrying while
// NATS or the stream is not there yet.
func (f *feed) start(ctx context.Context, js jetstream.JetStream) (jetstream.ConsumeContext, error) {
	cfg := f.r.cfg
	prefix := fmt.Sprintf("authn_revocations_%s_%s", consumerToken(cfg.Name), strings.ReplaceAll(uuid.NewString(), "-", "")[:12])
	for attempt := 0; ; attempt++ {
		f.since = cfg.Now().Add(-(cfg.MaxTokenAge + cfg.Leeway))
		since := f.since
		cons, err := js.OrderedConsumer(ctx, cfg.Stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{events.TypeSessionsRevoked},
			DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
			OptStartTime:   &since,
			NamePrefix:     prefix,
		})
		if err == nil {
			f.cons = cons
			var cc jetstream.ConsumeContext
			if cc, err = cons.Consume(f.handle, jetstream.ConsumeErrHandler(f.consumeError)); err == nil {
				return cc, nil
			}
		}
		if attempt%20 == 0 { // every ~20 s, not every retry
			cfg.Log.Warn("token revocation feed: cannot start the consumer; admin tokens are refused meanwhile",
				"stream", cfg.Stream, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// handle applies one event. The ordered consumer acknowledges nothing; a
// malformed event is logged and skipped, since no retry can mend it.
func (f *feed) handle(msg jetstream.Msg) {
	r := f.r
	meta, err := msg.Metadata()
	if err != nil {
		r.cfg.Log.Warn("token revocation feed: message without metadata", "subject", msg.Subject(), "error", err.Error())
		return
	}
	ev, err := events.Decode(msg.Data())
	var d events.SessionsRevoked
	if err == nil {
		err = ev.UnmarshalData(&d)
	}
	if err == nil && (d.AdminID == uuid.Nil || d.NotBefore.IsZero()) {
		err = errors.New("no admin_id or not_before")
	}
	if err != nil {
		r.cfg.Log.Warn("token revocation feed: skipped a malformed event", "subject", msg.Subject(),
			"stream_seq", meta.Sequence.Stream, "error", err.Error())
	} else {
		r.Revoke(d)
		r.m.applied.WithLabelValues(d.Reason).Inc()
		if r.Current() && !d.RevokedAt.IsZero() {
			r.m.delay.Observe(r.cfg.Now().Sub(d.RevokedAt).Seconds())
		}
		r.cfg.Log.Info("token revocation applied", "event_id", ev.ID.String(), "admin_id", d.AdminID.String(),
			"session_id", d.SessionID, "reason", d.Reason, "stream_seq", meta.Sequence.Stream)
	}
	r.m.pending.Set(float64(meta.NumPending))
	f.mu.Lock()
	f.consumer, f.seq = meta.Consumer, meta.Sequence.Consumer
	caughtUp := meta.NumPending == 0 && f.downSince.IsZero()
	if caughtUp {
		f.caughtUp = true
	}
	f.mu.Unlock()
	if caughtUp {
		r.setCurrent(true, "caught up")
	}
}

// consumeError hears the consumer's trouble. Missing heartbeats mean the
// server may be sending revocations we do not get: the feed is not
// current until it has caught up again (the library recreates the
// consumer after the last message applied).
func (f *feed) consumeError(_ jetstream.ConsumeContext, err error) {
	if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) {
		f.mu.Lock()
		f.caughtUp = false
		f.mu.Unlock()
		f.r.setCurrent(false, err.Error())
		return
	}
	f.r.cfg.Log.Debug("token revocation feed: consumer error", "error", err.Error())
}

// watch runs every Poll: it marks the feed stale after MaxStale without a
// connection and, until it has caught up, asks the server for the
// consumer's backlog, since an empty backlog delivers no message to tell.
func (f *feed) watch(ctx context.Context, nc *nats.Conn, now time.Time) {
	r := f.r
	f.mu.Lock()
	if nc.Status() != nats.CONNECTED {
		if f.downSince.IsZero() {
			f.downSince = now
		}
		stale := now.Sub(f.downSince) >= r.cfg.MaxStale
		if stale {
			f.caughtUp = false
		}
		f.mu.Unlock()
		if stale {
			r.setCurrent(false, fmt.Sprintf("NATS unreachable for %s", r.cfg.MaxStale))
		}
		return
	}
	f.downSince = time.Time{}
	caughtUp := f.caughtUp
	f.mu.Unlock()
	if caughtUp {
		r.setCurrent(true, "caught up")
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	info, err := f.cons.Info(ictx)
	cancel()
	if err != nil {
		return // recreating after a reconnect, or NATS slow: next poll
	}
	r.m.pending.Set(float64(info.NumPending))
	f.mu.Lock()
	caughtUp = info.NumPending == 0 && (info.Delivered.Consumer == 0 ||
		(info.Name == f.consumer && f.seq >= info.Delivered.Consumer))
	if caughtUp {
		f.caughtUp = true
	}
	f.mu.Unlock()
	if caughtUp {
		r.setCurrent(true, "caught up")
	}
}

// consumerToken makes name usable inside a consumer name.
func consumerToken(name string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			return c
		}
		return '_'
	}, name)
}

package stream_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/stream/streamtest"
	"github.com/acube/platform/libs/testkit"
)

// flow is one event a service publishes through its outbox and the
// consumer of another that applies it.
type flow struct {
	publisher, subject, durable string
}

// The flows cover every durable of Identities, each fed by a service
// allowed to publish the subject (and, for admin, a replayed booking
// subject).
var flows = []flow{
	{publisher: "admin", subject: events.TypeJobRequested, durable: "booking-jobs"},
	{publisher: "booking", subject: "audit.sessions.status_changed", durable: "admin-audit"},
	{publisher: "booking", subject: "booking.job.progress", durable: "admin-jobs"},
	{publisher: "booking", subject: "booking.session.booked", durable: "mailer-booking"},
	{publisher: "admin", subject: "booking.event.registered", durable: "mailer-booking"},
	{publisher: "admin", subject: "admin.account.created", durable: "mailer-admin"},
	{publisher: "exporter", subject: "audit.audit_log.export", durable: "exporter-audit"},
	{publisher: "exporter", subject: "exporter.export.completed"},
	{publisher: "admin", subject: events.TypeSessionsRevoked},
}

// multiFilters are the filters the tests give durables that have several
// (Durable.Filter ""), as the mailer's have.
var multiFilters = map[string][]string{
	"mailer-booking": {"booking.session.booked", "booking.event.registered"},
	"mailer-admin":   {"admin.account.created", "admin.job.completed"},
}

// TestIntegrationEachServiceWorksUnderItsIdentity runs what libs gives the
// services, each under its own identity on a server configured as
// production's: the stream declarer with the service's streams and
// buckets, the usage collector, the outbox relay, a consume runner per
// durable (applying one event and dead-lettering another), the admin's
// dead-letter reads and deletes, the exporter's replay of AUDIT and each
// owner's bucket. Any request the permissions miss is refused by the
// server, which logs it: the test fails on any such line.
func TestIntegrationEachServiceWorksUnderItsIdentity(t *testing.T) {
	t.Parallel()
	s := streamtest.Start(t)
	t.Cleanup(func() {
		for _, line := range s.Errors() {
			if strings.Contains(line, "Violation") {
				t.Errorf("server refused a request: %s", line)
			}
		}
	})
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	catalog := map[string]stream.Spec{}
	for _, spec := range stream.Catalog(1) {
		catalog[spec.Name] = spec
	}
	buckets := map[string]stream.BucketSpec{}
	for _, b := range stream.Buckets(1) {
		buckets[b.Name] = b
	}
	sessions := map[string]session{}
	for _, a := range stream.Identities() {
		if a.Everything {
			continue
		}
		sessions[a.Service] = connect(t, s, a.Service)
	}

	// Declarations, as the mains make them, and the usage collector.
	for _, a := range stream.Identities() {
		c, ok := sessions[a.Service]
		if !ok {
			continue
		}
		var cfg stream.DeclarerConfig
		var owned []stream.Spec
		for _, name := range a.Owns {
			cfg.Specs, owned = append(cfg.Specs, catalog[name]), append(owned, catalog[name])
		}
		for _, name := range a.Creates {
			cfg.Specs = append(cfg.Specs, catalog[name].IfMissing())
		}
		for _, name := range a.Buckets {
			cfg.Buckets, owned = append(cfg.Buckets, buckets[name]), append(owned, buckets[name].Usage())
		}
		if len(cfg.Specs) == 0 {
			continue
		}
		reg := prometheus.NewRegistry()
		d, err := stream.NewDeclarer(c.nc, c.js, reg, c.log, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// A refused declaration is retried for ever; the bound ends that.
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = d.Run(dctx)
		cancel()
		if err == nil {
			err = d.Streams(ctx)
		}
		if err != nil {
			t.Fatalf("%s declares its streams: %v", a.Service, err)
		}
		if len(owned) > 0 {
			reg.MustRegister(stream.NewUsage(c.js, owned...))
			for _, spec := range owned {
				if up := gauge(t, reg, "jetstream_stream_info_up", spec.Name); up != 1 {
					t.Errorf("%s reads the usage of %s: up %v", a.Service, spec.Name, up)
				}
			}
		}
	}

	// A consume runner per durable, each in its service's schema.
	applied := &appliedSet{ids: map[string]bool{}}
	runCtx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	pools := map[string]*pgxpool.Pool{}
	for _, a := range stream.Identities() {
		c, ok := sessions[a.Service]
		if !ok {
			continue
		}
		pools[a.Service] = schemaPool(t, dbURL, a.Service)
		m, err := consume.NewMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range a.Durables {
			filters := multiFilters[d.Name]
			if d.Filter != "" {
				filters = []string{d.Filter}
			}
			r, err := consume.New(pools[a.Service], c.js, m, c.log,
				consume.Config{Stream: d.Stream, Durable: d.Name, Subjects: filters, MaxAttempts: 1}, applied.handler(d.Name))
			if err != nil {
				t.Fatal(err)
			}
			running.Go(func() { _ = r.Run(runCtx) })
			testkit.Eventually(t, d.Name+" bound", func() bool { return r.Ready() == nil })
		}
	}

	// The events, through each publisher's outbox and relay: per flow
	// one the consumer applies and one it dead-letters.
	want := map[string]string{} // event id → durable that applies it
	for _, f := range flows {
		for _, fail := range []bool{false, true} {
			var data any = map[string]string{}
			switch {
			case f.subject == events.TypeSessionsRevoked:
				if fail {
					continue
				}
				data = events.SessionsRevoked{AdminID: uuid.New(), NotBefore: time.Now(), Reason: events.RevokeReasonLogout}
			case fail:
				data = map[string]string{"fail_at": f.durable}
			}
			ev, err := events.New(f.publisher, f.subject, data)
			if err != nil {
				t.Fatal(err)
			}
			if err := pgx.BeginFunc(ctx, pools[f.publisher], func(tx pgx.Tx) error { return outbox.Add(ctx, tx, ev) }); err != nil {
				t.Fatal(err)
			}
			if !fail && f.durable != "" {
				want[ev.ID.String()] = f.durable
			}
		}
	}
	for svc, pool := range pools {
		if svc == "mailer" {
			continue
		}
		relay, err := outbox.NewRelay(pool, sessions[svc].js, prometheus.NewRegistry(), sessions[svc].log,
			outbox.RelayConfig{Schema: svc, PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		running.Go(func() { _ = relay.Run(runCtx) })
		testkit.Eventually(t, svc+"'s outbox sent", func() bool {
			var left int
			err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL OR parked_at IS NOT NULL`).Scan(&left)
			return err == nil && left == 0
		})
	}
	for id, durable := range want {
		testkit.Eventually(t, durable+" applies "+id, func() bool { return applied.has(durable, id) })
	}

	// The admin lists a dead letter of every durable and deletes one.
	admin := sessions["admin"]
	letters, err := admin.js.Stream(ctx, stream.DeadLetter(1).Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flows {
		if f.durable == "" {
			continue
		}
		var letter *jetstream.RawStreamMsg
		testkit.Eventually(t, "dead letter of "+f.durable, func() bool {
			letter, err = letters.GetLastMsgForSubject(ctx, "deadletter."+f.durable)
			return err == nil
		})
		if got := letter.Header.Get(consume.HeaderConsumer); got != f.durable {
			t.Errorf("dead letter on deadletter.%s names consumer %q", f.durable, got)
		}
	}
	if err := letters.DeleteMsg(ctx, 1); err != nil {
		t.Errorf("admin deletes a dead letter: %v", err)
	}

	// Each service replays what it reads with ordered consumers, from the
	// start, as the exporter's rebuild does: every message its filter
	// holds. The services that verify admin tokens also run the real
	// revocation feed (libs/authn), which must catch up.
	for _, a := range stream.Identities() {
		c, ok := sessions[a.Service]
		if !ok {
			continue
		}
		for _, r := range a.Reads {
			replayAll(t, c.js, r)
			if r.Filter != events.TypeSessionsRevoked {
				continue
			}
			rev, err := authn.NewRevocations(authn.RevocationsConfig{Name: a.Service, Stream: r.Stream,
				Registerer: prometheus.NewRegistry(), Log: c.log})
			if err != nil {
				t.Fatal(err)
			}
			running.Go(func() { _ = rev.Run(runCtx, c.js) })
			testkit.Eventually(t, a.Service+"'s revocation feed current", rev.Current)
		}
	}

	// Each owner stores, reads and deletes a file larger than a chunk.
	for _, a := range stream.Identities() {
		for _, name := range a.Buckets {
			roundTrip(t, sessions[a.Service].js, name)
		}
	}

	stop()
	running.Wait()
	for svc, c := range sessions {
		if v := c.violations(t); len(v) > 0 {
			t.Errorf("%s: %v", svc, v)
		}
	}
}

// replayAll reads every message of r's filter with an ordered consumer.
func replayAll(t *testing.T, js jetstream.JetStream, r stream.Read) {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, r.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(r.Filter))
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, n := range info.State.Subjects {
		want += n
	}
	if want == 0 {
		t.Fatalf("nothing on %s in %s to replay", r.Filter, r.Stream)
	}
	cons, err := js.OrderedConsumer(ctx, r.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{r.Filter}})
	if err != nil {
		t.Fatalf("replay %s: %v", r.Stream, err)
	}
	batch, err := cons.Fetch(int(want))
	if err != nil {
		t.Fatal(err)
	}
	var got uint64
	for range batch.Messages() {
		got++
	}
	if got != want {
		t.Errorf("replayed %d of the %d messages on %s in %s (%v)", got, want, r.Filter, r.Stream, batch.Error())
	}
}

// appliedSet records which durable applied which event.
type appliedSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

// handler applies an event unless its data says to fail at this durable.
func (a *appliedSet) handler(durable string) consume.Handler {
	return func(_ context.Context, _ pgx.Tx, msg consume.Message) error {
		var data map[string]string
		if err := msg.Event.UnmarshalData(&data); err != nil {
			return consume.Permanent(err)
		}
		if data["fail_at"] == durable {
			return consume.Permanent(errors.New("refused by the test"))
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.ids[durable+"/"+msg.Event.ID.String()] = true
		return nil
	}
}

func (a *appliedSet) has(durable, id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ids[durable+"/"+id]
}

// schemaPool is a pool on schema with the outbox and inbox tables.
func schemaPool(t *testing.T, dbURL, schema string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	log := slog.New(slog.DiscardHandler)
	if err := postgres.Migrate(ctx, pool, schema, log, outbox.Migrations(), consume.Migrations()); err != nil {
		t.Fatal(err)
	}
	return pool
}

// roundTrip puts, gets and deletes an object of many chunks in bucket.
func roundTrip(t *testing.T, js jetstream.JetStream, bucket string) {
	t.Helper()
	ctx := context.Background()
	obs, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		t.Fatalf("open bucket %s: %v", bucket, err)
	}
	// 4 MB: the read needs the consumer's flow control, which stalls it
	// at 2 MB without the permission to answer it.
	body := bytes.Repeat([]byte("acube "), 700_000)
	if _, err := obs.PutBytes(ctx, "probe", body); err != nil {
		t.Fatalf("put in %s: %v", bucket, err)
	}
	r, err := obs.Get(ctx, "probe")
	if err != nil {
		t.Fatalf("get from %s: %v", bucket, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read from %s: %d bytes, %v", bucket, len(got), err)
	}
	if err := obs.Delete(ctx, "probe"); err != nil {
		t.Fatalf("delete from %s: %v", bucket, err)
	}
}

// gauge is the value of the sample of name labelled stream.
func gauge(t *testing.T, reg *prometheus.Registry, name, streamName string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stream" && l.GetValue() == streamName {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

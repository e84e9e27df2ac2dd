package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/internal/testwait"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
)

const schema = "relaytest"

type env struct {
	pool *pgxpool.Pool
	js   jetstream.JetStream
	nats *natstest.Server
	log  *slog.Logger
}

func setup(t *testing.T) env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	url := pgtest.NewDatabase(t)
	ns := natstest.Start(t)
	pool, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, schema, log, outbox.Migrations()); err != nil {
		t.Fatal(err)
	}
	nc, js, err := stream.Connect(ns.URL(), "relay-test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	spec := stream.Spec{Name: "RELAYTEST", Subjects: []string{"relaytest.>"}, MaxAge: 3600e9, MaxBytes: 1 << 26}
	if _, err := stream.Ensure(ctx, js, spec); err != nil {
		t.Fatal(err)
	}
	return env{pool: pool, js: js, nats: ns, log: log}
}

// write stores n events in transactions of 50, as services do alongside
// their changes, and returns their ids.
func (e env) write(t *testing.T, n int) map[uuid.UUID]bool {
	t.Helper()
	ctx := context.Background()
	ids := map[uuid.UUID]bool{}
	for done := 0; done < n; {
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			for i := 0; i < 50 && done < n; i++ {
				ev, err := events.New("test", "relaytest.thing.happened", map[string]int{"n": done})
				if err != nil {
					return err
				}
				if err := outbox.Add(ctx, tx, ev); err != nil {
					return err
				}
				ids[ev.ID] = true
				done++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func (e env) unsent(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e env) startRelay(t *testing.T, reg prometheus.Registerer, batch int) {
	t.Helper()
	r, err := outbox.NewRelay(e.pool, e.js, reg, e.log, outbox.RelayConfig{Schema: schema, BatchSize: batch, MaxBackoff: 200e6})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// streamIDs reads every message of the stream and counts each event id.
func (e env) streamIDs(t *testing.T) map[string]int {
	t.Helper()
	ctx := context.Background()
	cons, err := e.js.OrderedConsumer(ctx, "RELAYTEST", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for remaining := int(info.NumPending); remaining > 0; {
		batch, err := cons.Fetch(remaining)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			ev, err := events.Decode(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Headers().Get(jetstream.MsgIDHeader); got != ev.ID.String() {
				t.Errorf("Nats-Msg-Id = %q, want the event id %s", got, ev.ID)
			}
			seen[ev.ID.String()]++
			remaining--
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
	}
	return seen
}

func streamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), "RELAYTEST")
	if err != nil {
		return 0
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func TestIntegrationRelayPublishesEachEventOnce(t *testing.T) {
	e := setup(t)
	ids := e.write(t, 1000)

	// Two replicas race for the same rows.
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	e.startRelay(t, regA, 64)
	e.startRelay(t, regB, 64)

	testwait.For(t, "all events relayed", func() bool { return e.unsent(t) == 0 && streamMsgs(t, e.js) >= 1000 })

	published := counter(t, regA, "outbox_events_published_total") + counter(t, regB, "outbox_events_published_total")
	if published != 1000 {
		t.Errorf("relays published %v events in all, want 1000 (each exactly once)", published)
	}
	seen := e.streamIDs(t)
	if len(seen) != len(ids) {
		t.Fatalf("stream holds %d distinct events, want %d", len(seen), len(ids))
	}
	for id := range ids {
		if seen[id.String()] != 1 {
			t.Errorf("event %s is in the stream %d times, want 1", id, seen[id.String()])
		}
	}
}

func TestIntegrationRelayKeepsEventsWhileNATSIsDown(t *testing.T) {
	e := setup(t)
	reg := prometheus.NewRegistry()
	e.nats.Shutdown()
	e.startRelay(t, reg, 100)

	ids := e.write(t, 120) // the requests that wrote these did not fail
	testwait.For(t, "the relay to try and fail", func() bool { return counter(t, reg, "outbox_publish_failures_total") > 0 })
	if got := e.unsent(t); got != 120 {
		t.Fatalf("%d events unsent while NATS is down, want all 120 kept", got)
	}

	e.nats.Restart()
	testwait.For(t, "events relayed after NATS is back", func() bool { return e.unsent(t) == 0 && streamMsgs(t, e.js) >= 120 })
	seen := e.streamIDs(t)
	for id := range ids {
		if seen[id.String()] != 1 {
			t.Errorf("event %s is in the stream %d times, want 1", id, seen[id.String()])
		}
	}
}

func TestIntegrationRolledBackChangeWritesNoEvent(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := events.New("test", "relaytest.thing.happened", nil)
	if err := outbox.Add(ctx, tx, ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("outbox has %d rows after rollback, want 0", n)
	}
}

// TestIntegrationAddAllKeepsOrder: AddAll writes every event in one
// statement, in the order given, and the relay publishes them in it.
func TestIntegrationAddAllKeepsOrder(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	evs := make([]events.Event, 300)
	for i := range evs {
		ev, err := events.New("test", "relaytest.thing.happened", map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = ev
	}
	if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return outbox.AddAll(ctx, tx, evs) }); err != nil {
		t.Fatal(err)
	}
	rows, _ := e.pool.Query(ctx, `SELECT id FROM outbox ORDER BY seq`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("outbox holds %d rows, want %d", len(got), len(evs))
	}
	for i, id := range got {
		if id != evs[i].ID {
			t.Fatalf("row %d is event %s, want %s: AddAll must keep the order", i, id, evs[i].ID)
		}
	}
	e.startRelay(t, prometheus.NewRegistry(), 64)
	testwait.For(t, "all events relayed", func() bool { return e.unsent(t) == 0 })
	if err := outbox.AddAll(ctx, e.pool, nil); err != nil {
		t.Errorf("AddAll of nothing: %v", err)
	}
}

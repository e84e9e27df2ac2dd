package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

const schema = "relaytest"

type env struct {
	pool *pgxpool.Pool
	js   jetstream.JetStream
	nats *natstest.Server
	url  string // of the NATS server
	log  *slog.Logger
}

func setup(t *testing.T) env {
	t.Helper()
	ns := natstest.Start(t)
	e := setupOn(t, ns.URL(), stream.Spec{})
	e.nats = ns
	return e
}

// setupOn migrates a database of the test's own and connects to the NATS
// server at natsURL, declaring the RELAYTEST stream; spec's Duplicates and
// Subjects, when set, replace the defaults.
func setupOn(t *testing.T, natsURL string, spec stream.Spec) env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, schema, log, outbox.Migrations()); err != nil {
		t.Fatal(err)
	}
	nc, js, err := stream.Connect(natsURL, "relay-test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	spec.Name, spec.MaxAge, spec.MaxBytes = "RELAYTEST", 3600e9, 1<<26
	if len(spec.Subjects) == 0 {
		spec.Subjects = []string{"relaytest.>"}
	}
	if _, err := stream.Ensure(ctx, js, spec); err != nil {
		t.Fatal(err)
	}
	return env{pool: pool, js: js, url: natsURL, log: log}
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
	e.runRelay(t, reg, outbox.RelayConfig{BatchSize: batch})
}

// runRelay runs a relay of the test schema with cfg (fast retries unless
// cfg says otherwise) on a NATS connection of its own until the test ends
// or the returned stop is called.
func (e env) runRelay(t *testing.T, reg prometheus.Registerer, cfg outbox.RelayConfig) (stop func()) {
	t.Helper()
	cfg.Schema = schema
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 200 * time.Millisecond
	}
	if cfg.LockRetry == 0 {
		cfg.LockRetry = 50 * time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	// A connection of its own, as each replica has.
	nc, js, err := stream.Connect(e.url, "relay-test-relay", e.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r, err := outbox.NewRelay(e.pool, js, reg, e.log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// streamEvents reads every message of the stream, in stream order.
func (e env) streamEvents(t *testing.T) []events.Event {
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
	var evs []events.Event
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
			evs = append(evs, ev)
			remaining--
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
	}
	return evs
}

// streamIDs reads every message of the stream and counts each event id.
func (e env) streamIDs(t *testing.T) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, ev := range e.streamEvents(t) {
		seen[ev.ID.String()]++
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

// counter is the value of the metric called name in g (a counter or a
// gauge), 0 when g has none.
func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestIntegrationRelayPublishesEachEventOnce(t *testing.T) {
	e := setup(t)
	ids := e.write(t, 1000)

	// Two replicas: whichever takes the relay lock publishes, the other stands by.
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	e.startRelay(t, regA, 64)
	e.startRelay(t, regB, 64)

	testkit.Eventually(t, "all events relayed", func() bool { return e.unsent(t) == 0 && streamMsgs(t, e.js) >= 1000 })

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
	testkit.Eventually(t, "the relay to try and fail", func() bool { return counter(t, reg, "outbox_publish_failures_total") > 0 })
	if got := e.unsent(t); got != 120 {
		t.Fatalf("%d events unsent while NATS is down, want all 120 kept", got)
	}

	e.nats.Restart()
	testkit.Eventually(t, "events relayed after NATS is back", func() bool { return e.unsent(t) == 0 && streamMsgs(t, e.js) >= 120 })
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
	testkit.Eventually(t, "all events relayed", func() bool { return e.unsent(t) == 0 })
	if err := outbox.AddAll(ctx, e.pool, nil); err != nil {
		t.Errorf("AddAll of nothing: %v", err)
	}
}

// TestIntegrationGaugesMoveWhileNATSIsDown: the backlog gauges refresh on
// their own ticker, so they rise during the outage they exist to report
// (before: they were read only when the relay was idle, and read 0), and
// only the active relay reports them.
func TestIntegrationGaugesMoveWhileNATSIsDown(t *testing.T) {
	e := setup(t)
	e.nats.Shutdown()
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	cfg := outbox.RelayConfig{BatchSize: 100, GaugeInterval: 50 * time.Millisecond, PublishTimeout: 500 * time.Millisecond}
	e.runRelay(t, regA, cfg)
	e.runRelay(t, regB, cfg)

	e.write(t, 120)
	backlog := func() float64 {
		return counter(t, regA, "outbox_backlog_events") + counter(t, regB, "outbox_backlog_events")
	}
	testkit.Eventually(t, "outbox_backlog_events to read 120 while NATS is down", func() bool { return backlog() == 120 })
	testkit.Eventually(t, "outbox_oldest_unsent_age_seconds to rise", func() bool {
		return counter(t, regA, "outbox_oldest_unsent_age_seconds")+counter(t, regB, "outbox_oldest_unsent_age_seconds") > 0
	})
	for name, reg := range map[string]*prometheus.Registry{"a": regA, "b": regB} {
		if active, got := counter(t, reg, "outbox_relay_active"), counter(t, reg, "outbox_backlog_events"); active == 0 && got != 0 {
			t.Errorf("standby relay %s reports a backlog of %v, want 0 (only the active relay reports)", name, got)
		}
	}

	e.nats.Restart()
	testkit.Eventually(t, "the backlog to drain after NATS is back", func() bool { return e.unsent(t) == 0 && backlog() == 0 })
}

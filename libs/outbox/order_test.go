package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

// numbered is the data of the keyed test events: n is the event's place in
// the order of writing, over all keys.
type numbered struct {
	N int `json:"n"`
}

// writeKeyed stores events from to from+n-1, spread round-robin over keys
// aggregates, in transactions of perTx; subject picks each event's subject
// from its number (nil: relaytest.thing.happened). It returns n.
func (e env) writeKeyed(t *testing.T, from, n, keys, perTx int, subject func(i int) string) int {
	t.Helper()
	ctx := context.Background()
	for done := from; done < from+n; {
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			for i := 0; i < perTx && done < from+n; i++ {
				typ := "relaytest.thing.happened"
				if subject != nil {
					typ = subject(done)
				}
				ev, err := events.New("test", typ, numbered{N: done})
				if err != nil {
					return err
				}
				ev.Key = fmt.Sprintf("thing:%d", done%keys)
				if err := outbox.Add(ctx, tx, ev); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// checkOrder fails the test unless the stream holds every one of the want
// events exactly once and each key's events in the order they were written.
func (e env) checkOrder(t *testing.T, want int) {
	t.Helper()
	evs := e.streamEvents(t)
	seen := map[string]int{}
	last := map[string]int{}
	inversions := 0
	for _, ev := range evs {
		seen[ev.ID.String()]++
		var d numbered
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[ev.Key]; ok && d.N < prev {
			inversions++
			if inversions <= 5 {
				t.Errorf("key %s: event %d is in the stream after event %d", ev.Key, d.N, prev)
			}
		}
		last[ev.Key] = max(last[ev.Key], d.N)
	}
	if inversions > 0 {
		t.Errorf("%d per-key inversions in the stream, want 0", inversions)
	}
	if len(evs) != want || len(seen) != want {
		t.Errorf("stream holds %d messages of %d distinct events, want %d of %d (each exactly once)", len(evs), len(seen), want, want)
	}
}

// TestIntegrationTwoRelaysKeepEachKeysOrder: two replicas relaying one
// outbox publish every event once and each key's events in the order they
// were written (before the single active relay: 133 inversions in 3,000).
func TestIntegrationTwoRelaysKeepEachKeysOrder(t *testing.T) {
	e := setup(t)
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	// Batches of 500 hold several events of each key, so two relays
	// publishing neighbouring batches at once would invert them; one
	// transaction wakes both at the same moment.
	e.runRelay(t, regA, outbox.RelayConfig{BatchSize: 500})
	e.runRelay(t, regB, outbox.RelayConfig{BatchSize: 500})
	n := e.writeKeyed(t, 0, 3000, 300, 3000, nil)
	testkit.Eventually(t, "all events relayed", func() bool { return e.unsent(t) == 0 })

	e.checkOrder(t, n)
	published := counter(t, regA, "outbox_events_published_total") + counter(t, regB, "outbox_events_published_total")
	if published != float64(n) {
		t.Errorf("relays published %v events in all, want %d", published, n)
	}
	if got := counter(t, regA, "outbox_relay_active") + counter(t, regB, "outbox_relay_active"); got != 1 {
		t.Errorf("%v relays report themselves active, want exactly 1", got)
	}
}

// TestIntegrationStandbyTakesOver: when the active relay stops, or its lock
// connection dies, the standby publishes the rest, in order.
func TestIntegrationStandbyTakesOver(t *testing.T) {
	tests := []struct {
		name string
		// kill ends the first relay's turn.
		kill func(t *testing.T, e env, stopFirst func())
	}{
		{name: "active relay stopped", kill: func(_ *testing.T, _ env, stopFirst func()) { stopFirst() }},
		{name: "lock connection terminated", kill: func(t *testing.T, e env, _ func()) {
			pid := e.lockHolder(t)
			if _, err := e.pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "the relay lock to pass to another session", func() bool {
				return e.lockHolder(t) != 0 && e.lockHolder(t) != pid
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			n := e.writeKeyed(t, 0, 500, 50, 50, nil)
			regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
			stopA := e.runRelay(t, regA, outbox.RelayConfig{BatchSize: 64})
			testkit.Eventually(t, "the first relay to publish", func() bool { return e.unsent(t) == 0 })
			e.runRelay(t, regB, outbox.RelayConfig{BatchSize: 64})
			if got := counter(t, regA, "outbox_relay_active"); got != 1 {
				t.Fatalf("first relay: outbox_relay_active = %v, want 1", got)
			}

			tt.kill(t, e, stopA)
			n += e.writeKeyed(t, n, 1000, 50, 50, nil)
			testkit.Eventually(t, "the rest relayed", func() bool { return e.unsent(t) == 0 })
			e.checkOrder(t, n)
			if got := counter(t, regA, "outbox_relay_active") + counter(t, regB, "outbox_relay_active"); got != 1 {
				t.Errorf("%v relays report themselves active, want exactly 1", got)
			}
		})
	}
}

// lockHolder is the pid of the session holding an advisory lock in the
// test's database (only the relay's is held for long), 0 when none.
func (e env) lockHolder(t *testing.T) int {
	t.Helper()
	var pid int
	err := e.pool.QueryRow(context.Background(), `
SELECT COALESCE(max(pid), 0) FROM pg_locks
WHERE locktype = 'advisory' AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestIntegrationPartialFailureKeepsEachKeysOrder: an event whose stream
// is missing fails while later events of its key would succeed; once the
// stream takes its subject, the stream holds the key's events in order.
// (Before: the later events were stored first, the failed one after them.)
func TestIntegrationPartialFailureKeepsEachKeysOrder(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// Every 7th event goes to a subject no stream holds yet, between
	// events of the same key that can be published.
	subject := func(i int) string {
		if i%7 == 3 {
			return "relaylate.thing.happened"
		}
		return "relaytest.thing.happened"
	}
	n := e.writeKeyed(t, 0, 400, 20, 50, subject)
	reg := prometheus.NewRegistry()
	e.runRelay(t, reg, outbox.RelayConfig{BatchSize: 100})

	// Wait until the relay has met the missing stream, and has published
	// what it may meanwhile.
	testkit.Eventually(t, "the relay to find the stream missing", func() bool { return e.failing(t) > 0 })
	if got := counter(t, reg, "outbox_events_parked_total"); got != 0 {
		t.Fatalf("%v events parked within the grace period, want 0", got)
	}
	if _, err := stream.Ensure(ctx, e.js, stream.Spec{Name: "RELAYTEST", Subjects: []string{"relaytest.>", "relaylate.>"},
		MaxAge: 3600e9, MaxBytes: 1 << 26}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "all events relayed", func() bool { return e.unsent(t) == 0 })
	e.checkOrder(t, n)
}

// failing counts rows that have failed for want of a stream.
func (e env) failing(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIntegrationRowsCarryTheirOrderKey: every way of writing to the
// outbox stores the key the relay orders by.
func TestIntegrationRowsCarryTheirOrderKey(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	keyed, err := events.New("test", "relaytest.thing.happened", nil)
	if err != nil {
		t.Fatal(err)
	}
	keyed.Key = "thing:1"
	unkeyed, err := events.New("test", "relaytest.thing.happened", nil)
	if err != nil {
		t.Fatal(err)
	}
	envelope, err := json.Marshal(keyed)
	if err != nil {
		t.Fatal(err)
	}
	replayID, rawID := uuid.New(), uuid.New()
	tests := []struct {
		name  string
		write func(tx pgx.Tx) error
		id    uuid.UUID
		want  string
	}{
		{name: "Add of a keyed event", id: keyed.ID, want: "thing:1",
			write: func(tx pgx.Tx) error { return outbox.Add(ctx, tx, keyed) }},
		{name: "AddAll: an event without a key is its own", id: unkeyed.ID, want: unkeyed.ID.String(),
			write: func(tx pgx.Tx) error { return outbox.AddAll(ctx, tx, []events.Event{unkeyed, mustEvent(t, "thing:2")}) }},
		{name: "AddRaw of an envelope takes the event's key", id: replayID, want: "thing:1",
			write: func(tx pgx.Tx) error { return outbox.AddRaw(ctx, tx, replayID, keyed.Subject(), envelope) }},
		{name: "AddRaw of anything else is its own", id: rawID, want: rawID.String(),
			write: func(tx pgx.Tx) error { return outbox.AddRaw(ctx, tx, rawID, "relaytest.raw", []byte("not json")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := pgx.BeginFunc(ctx, e.pool, tt.write); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := e.pool.QueryRow(ctx, `SELECT key FROM outbox WHERE id = $1`, tt.id).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("key = %q, want %q", got, tt.want)
			}
		})
	}
}

func mustEvent(t *testing.T, key string) events.Event {
	t.Helper()
	ev, err := events.New("test", "relaytest.thing.happened", nil)
	if err != nil {
		t.Fatal(err)
	}
	ev.Key = key
	return ev
}

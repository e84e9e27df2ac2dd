package projection_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/projection"
	"github.com/acube/platform/services/exporter/internal/store"
)

func setup(t *testing.T) (*pgxpool.Pool, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	pool := dbtest.NewPool(t)
	_, js := natstest.JetStream(t, srv.URL())
	// The service declares DEADLETTER (the runner no longer does); the
	// test plays it.
	for _, spec := range []stream.Spec{stream.Audit(1), stream.DeadLetter(1)} {
		if _, err := stream.Ensure(context.Background(), js, spec); err != nil {
			t.Fatal(err)
		}
	}
	return pool, js
}

// publish sends n audit events (and, with dup, each one twice under a new
// message id, as a republish after the duplicate window would).
func publish(t *testing.T, js jetstream.JetStream, n int, dup bool) []events.Event {
	t.Helper()
	var out []events.Event
	for i := range n {
		ev, err := events.New("admin", "audit.session.delete", events.AuditRecord{
			ActorID: "a1", ActorEmail: "ann@example.org", Action: "delete", Entity: "session",
			EntityID: fmt.Sprintf("s%d", i), ClientIP: "10.0.0.1", Changes: json.RawMessage(`{"n":1}`),
			OccurredAt: time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC),
		})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(ev)
		if _, err := js.Publish(context.Background(), ev.Subject(), body, jetstream.WithMsgID(ev.ID.String())); err != nil {
			t.Fatal(err)
		}
		if dup {
			if _, err := js.Publish(context.Background(), ev.Subject(), body); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, ev)
	}
	return out
}

// forge adds a record to the projection that no event backs, as drift
// would.
func forge(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO audit_log (event_id, occurred_at, action, entity) VALUES (gen_random_uuid(), now(), 'forged', 'x')`); err != nil {
		t.Fatal(err)
	}
}

// rebuild rebuilds the projection from the AUDIT stream and fails the
// test if that fails.
func rebuild(t *testing.T, pool *pgxpool.Pool, js jetstream.JetStream) projection.RebuildResult {
	t.Helper()
	res, err := projection.Rebuild(context.Background(), store.New(pool), js, dbtest.Discard())
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	return res
}

func count(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIntegrationConsumerProjectsOnce(t *testing.T) {
	t.Parallel()
	pool, js := setup(t)
	publish(t, js, 5, true)
	// A malformed event goes to the dead-letter stream, not the table.
	bad, _ := events.New("admin", "audit.x.y", map[string]any{"changes": []int{1}})
	body, _ := json.Marshal(bad)
	ack, err := js.Publish(context.Background(), "audit.x.y", body)
	if err != nil {
		t.Fatal(err)
	}

	m, err := consume.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r, err := projection.NewConsumer(pool, js, m, dbtest.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// Every message, the duplicates and the malformed one last, handled:
	// the counts below are final, not a moment's.
	natstest.WaitAcked(t, js, stream.Audit(1).Name, projection.Durable, ack.Sequence)
	s, err := js.Stream(context.Background(), consume.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("%d dead letters, want 1", info.State.Msgs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := count(t, pool); n != 5 {
		t.Errorf("projection holds %d records, want 5", n)
	}
}

func TestIntegrationRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, js := setup(t)
	evs := publish(t, js, 2500, false)
	// The projection has drifted: a row lost, a row that no event backs.
	forge(t, pool)
	res := rebuild(t, pool, js)
	if res.Records != 2500 || res.Skipped != 0 || res.LastSeq != 2500 {
		t.Errorf("Rebuild = %+v, want 2500 records up to seq 2500", res)
	}
	if n := count(t, pool); n != 2500 {
		t.Errorf("rebuilt projection holds %d records, want 2500", n)
	}
	var forged int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'forged'`).Scan(&forged)
	if forged != 0 {
		t.Error("a record no event backs survived the rebuild")
	}
	var entity string
	if err := pool.QueryRow(ctx, `SELECT entity_id FROM audit_log WHERE event_id = $1`, evs[1234].ID).Scan(&entity); err != nil || entity != "s1234" {
		t.Errorf("record of event 1234: %q, %v", entity, err)
	}
	// A second rebuild over an unchanged stream gives the same table.
	if _, err := projection.Rebuild(ctx, store.New(pool), js, dbtest.Discard()); err != nil {
		t.Fatalf("second Rebuild: %v", err)
	}
	if n := count(t, pool); n != 2500 {
		t.Errorf("after a second rebuild: %d records, want 2500", n)
	}
}

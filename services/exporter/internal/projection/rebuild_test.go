package projection_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/projection"
	"github.com/acube/platform/services/exporter/internal/store"
)

// onMessage is a slog handler that runs do, once, when a line with msg is
// logged, on the logging goroutine: a hook into the step of Rebuild that
// logs it, without a sleep or a change to the code under test.
type onMessage struct {
	msg  string
	do   func()
	once *sync.Once
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h onMessage) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h onMessage) WithGroup(string) slog.Handler            { return h }
func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(h.do)
	}
	return nil
}

// TestIntegrationRebuildCatchesUpEventsDuringReplay: events published
// after the replay read the stream, while the live service keeps writing,
// are caught up under the lock at the swap: the rebuilt projection misses
// none of them.
func TestIntegrationRebuildCatchesUpEventsDuringReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, js := setup(t)
	publish(t, js, 1200, false)
	var late []events.Event
	log := slog.New(onMessage{msg: "audit stream replayed; swapping projection", once: &sync.Once{}, do: func() {
		late = publish(t, js, 30, false)
	}})
	res, err := projection.Rebuild(ctx, store.New(pool), js, log)
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	if len(late) != 30 {
		t.Fatalf("published %d late events; the hook did not run", len(late))
	}
	if res.Records != 1230 || res.LastSeq != 1230 || res.Skipped != 0 {
		t.Errorf("Rebuild = %+v, want 1230 records up to seq 1230", res)
	}
	if n := count(t, pool); n != 1230 {
		t.Errorf("rebuilt projection holds %d records, want 1230", n)
	}
	var found int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE event_id = $1 OR event_id = $2`,
		late[0].ID, late[29].ID).Scan(&found); err != nil || found != 2 {
		t.Errorf("the first and last late events: %d found (%v), want 2", found, err)
	}
}

// TestIntegrationRebuildSkipsMalformedEvents: events the live consumer
// would dead-letter (not an event at all, or an audit event without a
// record) are counted and left out; the rest are rebuilt.
func TestIntegrationRebuildSkipsMalformedEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, js := setup(t)
	publish(t, js, 3, false)
	if _, err := js.Publish(ctx, "audit.x.garbage", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	bad, err := events.New("admin", "audit.x.y", map[string]any{"changes": []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(bad)
	if _, err := js.Publish(ctx, "audit.x.y", body); err != nil {
		t.Fatal(err)
	}
	publish(t, js, 2, false)
	res := rebuild(t, pool, js)
	if res.Records != 5 || res.Skipped != 2 || res.LastSeq != 7 {
		t.Errorf("Rebuild = %+v, want 5 records, 2 skipped, up to seq 7", res)
	}
	if n := count(t, pool); n != 5 {
		t.Errorf("rebuilt projection holds %d records, want 5", n)
	}
}

// TestIntegrationRebuildEmptyStream: a stream with nothing in it rebuilds
// an empty projection: what the projection held without an event behind
// it is gone.
func TestIntegrationRebuildEmptyStream(t *testing.T) {
	t.Parallel()
	pool, js := setup(t)
	forge(t, pool)
	res := rebuild(t, pool, js)
	if res != (projection.RebuildResult{}) {
		t.Errorf("Rebuild of an empty stream = %+v, want nothing", res)
	}
	if n := count(t, pool); n != 0 {
		t.Errorf("rebuilt projection holds %d records, want 0", n)
	}
}

// TestIntegrationRebuildStreamWithRemovedTail: when the last messages of
// the range were deleted from the stream (the stream's last sequence
// stays), the replay stops at what is there instead of waiting for them.
func TestIntegrationRebuildStreamWithRemovedTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, js := setup(t)
	publish(t, js, 6, false)
	s, err := js.Stream(ctx, stream.Audit(1).Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{5, 6} {
		if err := s.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	res := rebuild(t, pool, js)
	if res.Records != 4 || res.LastSeq != 4 {
		t.Errorf("Rebuild = %+v, want the 4 records left, up to seq 4", res)
	}
	if n := count(t, pool); n != 4 {
		t.Errorf("rebuilt projection holds %d records, want 4", n)
	}
}

// TestIntegrationRebuildWithoutStream: with no AUDIT stream there is
// nothing to rebuild from; the projection is left as it was.
func TestIntegrationRebuildWithoutStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	srv := natstest.Start(t)
	_, js := natstest.JetStream(t, srv.URL())
	if _, err := pool.Exec(ctx, `INSERT INTO audit_log (event_id, occurred_at, action, entity) VALUES (gen_random_uuid(), now(), 'kept', 'x')`); err != nil {
		t.Fatal(err)
	}
	_, err := projection.Rebuild(ctx, store.New(pool), js, dbtest.Discard())
	if err == nil || !strings.Contains(err.Error(), stream.Audit(1).Name) {
		t.Fatalf("Rebuild without a stream = %v, want an error naming %s", err, stream.Audit(1).Name)
	}
	if n := count(t, pool); n != 1 {
		t.Errorf("projection holds %d records after a failed rebuild, want the 1 it had", n)
	}
}

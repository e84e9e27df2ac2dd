package main

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/admin/internal/deadletter"
)

func TestIntegrationDeadLetters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "198.51.100.1")

	// A real consumer of another stream that fails until told otherwise.
	if _, err := stream.Ensure(ctx, h.js, stream.Spec{Name: "TESTSRC", Subjects: []string{"test.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	var applied atomic.Int32
	m, err := consume.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	runner, err := consume.New(h.pool, h.js, m, discardLogger(), consume.Config{Stream: "TESTSRC", Durable: "test-fail",
		Backoff: []time.Duration{10 * time.Millisecond}},
		func(context.Context, pgx.Tx, consume.Message) error {
			if !healthy.Load() {
				return consume.Permanent(errors.New("downstream refuses"))
			}
			applied.Add(1)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = runner.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	first := must(t)(events.New("test", "test.thing.happened", map[string]int{"n": 1}))
	second := must(t)(events.New("test", "test.thing.happened", map[string]int{"n": 2}))
	publish(t, h.js, first)
	publish(t, h.js, second)

	list := func(query string) letterPageView {
		t.Helper()
		r := h.do("GET", "/api/admin/dead-letters"+query, root.AccessToken, nil, "")
		if r.status != 200 {
			t.Fatalf("list = %d %s", r.status, r.body)
		}
		var p letterPageView
		r.json(t, &p)
		return p
	}
	testkit.Eventually(t, "two dead letters", func() bool { return len(list("?consumer=test-fail").Items) == 2 })

	// Two pages of one; the consumer runs handlers concurrently, so the
	// letters may be in either order.
	p := list("?limit=1")
	if len(p.Items) != 1 || p.NextCursor == "" || p.NextAfter == 0 {
		t.Fatalf("page 1 = %+v", p)
	}
	p2 := list("?limit=1&cursor=" + p.NextCursor)
	if len(p2.Items) != 1 || p2.NextCursor != "" || p2.NextAfter != 0 || p2.Items[0].Seq == p.Items[0].Seq {
		t.Fatalf("page 2 = %+v", p2)
	}
	// The deprecated ?after= still pages the same way.
	if old := list("?limit=1&after=" + itoa(p.NextAfter)); len(old.Items) != 1 || old.Items[0].Seq != p2.Items[0].Seq {
		t.Fatalf("page 2 by after = %+v", old)
	}
	for _, q := range []string{"?consumer=a.b", "?limit=0", "?limit=201", "?limit=x", "?cursor=nope", "?cursor=" + p.NextCursor + "x"} {
		if r := h.do("GET", "/api/admin/dead-letters"+q, root.AccessToken, nil, ""); r.status != 422 {
			t.Fatalf("GET dead-letters%s = %d %s, want 422", q, r.status, r.body)
		}
	}
	byEvent := map[string]deadletter.Letter{p.Items[0].EventID: p.Items[0], p2.Items[0].EventID: p2.Items[0]}
	l1, l2 := byEvent[first.ID.String()], byEvent[second.ID.String()]
	if l1.Seq == 0 || l2.Seq == 0 {
		t.Fatalf("pages hold %v, want both events", byEvent)
	}
	if l1.Consumer != "test-fail" || l1.OriginalSubject != "test.thing.happened" || l1.OriginalStream != "TESTSRC" ||
		l1.Error != "downstream refuses" || l1.Attempts != 1 {
		t.Fatalf("letter = %+v", l1)
	}

	// Inspect shows the original event.
	r := h.do("GET", "/api/admin/dead-letters/"+itoa(l1.Seq), root.AccessToken, nil, "")
	var inspected deadletter.Letter
	r.json(t, &inspected)
	if r.status != 200 || len(inspected.Event) == 0 {
		t.Fatalf("inspect = %d %s", r.status, r.body)
	}
	ev, err := events.Decode(inspected.Event)
	if err != nil || ev.ID != first.ID {
		t.Fatalf("inspected event = %+v, %v", ev, err)
	}

	// Replay, once the consumer is fixed: it applies the event.
	healthy.Store(true)
	if r := h.do("POST", "/api/admin/dead-letters/"+itoa(l1.Seq)+"/replay", root.AccessToken, nil, "198.51.100.1"); r.status != 202 {
		t.Fatalf("replay = %d %s", r.status, r.body)
	}
	testkit.Eventually(t, "the replayed event applied", func() bool { return applied.Load() == 1 })
	if r := h.do("GET", "/api/admin/dead-letters/"+itoa(l1.Seq), root.AccessToken, nil, ""); r.status != 404 {
		t.Fatalf("replayed letter still there: %d", r.status)
	}

	// Discard the other.
	if r := h.do("DELETE", "/api/admin/dead-letters/"+itoa(l2.Seq), root.AccessToken, nil, "198.51.100.1"); r.status != 204 {
		t.Fatalf("discard = %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/api/admin/dead-letters/"+itoa(l2.Seq), root.AccessToken, nil, ""); r.status != 404 {
		t.Fatalf("second discard = %d, want 404", r.status)
	}
	if n := len(list("").Items); n != 0 {
		t.Fatalf("%d letters left", n)
	}
	if applied.Load() != 1 {
		t.Fatal("the discarded event was applied")
	}

	testkit.Eventually(t, "audit of both actions", func() bool {
		return h.countAudit("entity = 'dead_letter' AND action = 'replay' AND entity_id = $1 AND changes->>'event_id' = $2 AND client_ip = '198.51.100.1'", itoa(l1.Seq), first.ID.String()) == 1 &&
			h.countAudit("entity = 'dead_letter' AND action = 'discard' AND entity_id = $1", itoa(l2.Seq)) == 1
	})
}

type letterPageView struct {
	Items      []deadletter.Letter `json:"items"`
	NextCursor string              `json:"next_cursor"`
	NextAfter  uint64              `json:"next_after"`
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// must returns a function that fails the test on a non-nil error and
// returns the value otherwise.
func must(t *testing.T) func(events.Event, error) events.Event {
	return func(ev events.Event, err error) events.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
}

package outbox_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationLostMarksArePublishedOnce backs RelayConfig.SyncCommit:
// when the marks of relayed rows are lost (a crash of PostgreSQL before an
// asynchronous commit reached the disk), the next relay publishes those
// rows again and the stream's duplicate window drops them, so every event
// is in the stream once, with either commit mode.
func TestIntegrationLostMarksArePublishedOnce(t *testing.T) {
	tests := []struct {
		name       string
		syncCommit bool
	}{
		{name: "asynchronous commit (default)", syncCommit: false},
		{name: "synchronous commit", syncCommit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			const n = 300
			ids := e.write(t, n)
			cfg := outbox.RelayConfig{BatchSize: 64, SyncCommit: tt.syncCommit}
			stop := e.runRelay(t, prometheus.NewRegistry(), cfg)
			testkit.Eventually(t, "all events relayed", func() bool { return e.unsent(t) == 0 && streamMsgs(t, e.js) >= n })
			stop()

			// The marks are lost, as a crash would lose the last ones.
			if _, err := e.pool.Exec(context.Background(), `UPDATE outbox SET sent_at = NULL`); err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			e.runRelay(t, reg, cfg)
			testkit.Eventually(t, "lost marks relayed again", func() bool { return e.unsent(t) == 0 })

			if got := counter(t, reg, "outbox_events_published_total"); got != n {
				t.Errorf("second relay published %v events, want %d (all again)", got, n)
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
		})
	}
}

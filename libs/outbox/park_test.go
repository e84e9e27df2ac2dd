package outbox_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationPoisonRowIsParked: one row that can never be published,
// among 200 that can, is parked with its error and counted, and the 200
// reach the stream exactly once (before: the whole outbox stopped behind it
// and the rows after it were republished past the duplicate window).
func TestIntegrationPoisonRowIsParked(t *testing.T) {
	tests := []struct {
		name string
		// nats returns the URL of the server to relay to.
		nats func(t *testing.T) string
		// subject and payload of the poison row.
		subject string
		payload []byte
		// wantErr is part of the error the row is parked with.
		wantErr string
	}{
		{name: "no stream holds the subject", nats: natsURL, subject: "relaynowhere.thing.happened",
			wantErr: "no stream holds subject relaynowhere.thing.happened"},
		{name: "payload over max_payload", nats: natsURL, subject: "relaytest.thing.huge",
			payload: bytes.Repeat([]byte("x"), 2<<20), wantErr: "maximum payload exceeded"},
		{name: "publish permission denied", nats: deniedNATS, subject: "relaytest.forbidden.thing",
			wantErr: "Permissions Violation for Publish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A short duplicate window: a republished row would show as a
			// second copy in the stream.
			e := setupOn(t, tt.nats(t), stream.Spec{Duplicates: time.Second})
			ctx := context.Background()
			n := e.writeKeyed(t, 0, 100, 20, 50, nil)
			poisonID := uuid.New()
			payload := tt.payload
			if payload == nil {
				ev, err := events.New("test", tt.subject, numbered{N: -1})
				if err != nil {
					t.Fatal(err)
				}
				ev.ID, ev.Key = poisonID, "thing:0"
				if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, ev) }); err != nil {
					t.Fatal(err)
				}
			} else if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
				return outbox.AddRaw(ctx, tx, poisonID, tt.subject, payload)
			}); err != nil {
				t.Fatal(err)
			}
			n += e.writeKeyed(t, 100, 100, 20, 50, nil)

			reg := prometheus.NewRegistry()
			e.runRelay(t, reg, outbox.RelayConfig{BatchSize: 64, PublishTimeout: time.Second,
				MissingStreamGrace: time.Nanosecond, GaugeInterval: 50 * time.Millisecond})
			testkit.Eventually(t, "the 200 good events relayed", func() bool { return e.sent(t) == n })
			testkit.Eventually(t, "the poison row parked", func() bool { return e.parked(t) == 1 })

			// Nothing is left to claim, so nothing more can reach the
			// stream: its count is final.
			e.checkOrder(t, n)
			var lastError string
			var parked bool
			if err := e.pool.QueryRow(ctx, `SELECT parked_at IS NOT NULL, COALESCE(last_error, '') FROM outbox WHERE id = $1`,
				poisonID).Scan(&parked, &lastError); err != nil {
				t.Fatal(err)
			}
			if !parked || !strings.Contains(lastError, tt.wantErr) {
				t.Errorf("poison row: parked %v, last_error %q; want parked with an error containing %q", parked, lastError, tt.wantErr)
			}
			if got := counter(t, reg, "outbox_events_parked_total"); got != 1 {
				t.Errorf("outbox_events_parked_total = %v, want 1", got)
			}
			testkit.Eventually(t, "outbox_parked_events to read 1", func() bool { return counter(t, reg, "outbox_parked_events") == 1 })
		})
	}
}

// TestIntegrationReleasedRowIsPublished: the operator's release of a parked
// row (docs/operations.md) publishes it once its cause is fixed.
func TestIntegrationReleasedRowIsPublished(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	n := e.writeKeyed(t, 0, 10, 5, 50, func(i int) string {
		if i == 4 {
			return "relaylate.thing.happened"
		}
		return "relaytest.thing.happened"
	})
	reg := prometheus.NewRegistry()
	e.runRelay(t, reg, outbox.RelayConfig{MissingStreamGrace: time.Nanosecond, GaugeInterval: 50 * time.Millisecond})
	testkit.Eventually(t, "the row without a stream parked", func() bool { return e.parked(t) == 1 && e.sent(t) == n-1 })
	testkit.Eventually(t, "outbox_parked_events to read 1", func() bool { return counter(t, reg, "outbox_parked_events") == 1 })

	if _, err := stream.Ensure(ctx, e.js, stream.Spec{Name: "RELAYTEST", Subjects: []string{"relaytest.>", "relaylate.>"},
		MaxAge: 3600e9, MaxBytes: 1 << 26}); err != nil {
		t.Fatal(err)
	}
	// The release, as docs/operations.md gives it.
	if _, err := e.pool.Exec(ctx, `UPDATE outbox SET parked_at = NULL, failed_at = NULL WHERE parked_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the released row relayed", func() bool { return e.sent(t) == n })
	testkit.Eventually(t, "outbox_parked_events to read 0", func() bool { return counter(t, reg, "outbox_parked_events") == 0 })
	if got := len(e.streamIDs(t)); got != n {
		t.Errorf("stream holds %d events, want %d", got, n)
	}
}

func (e env) sent(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e env) parked(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func natsURL(t *testing.T) string { return natstest.Start(t).URL() }

// deniedNATS runs a JetStream server whose only user may publish anywhere
// but relaytest.forbidden.>, as a service's NATS identity may not publish
// outside its own subjects.
func deniedNATS(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a NATS server; skipped under -short")
	}
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{{Username: "relay", Password: "relay", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Deny: []string{"relaytest.forbidden.>"}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return strings.Replace(srv.ClientURL(), "nats://", "nats://relay:relay@", 1)
}

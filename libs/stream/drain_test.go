package stream

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationDrain is the NATS stage of every service's shutdown:
// a connected client is drained (its last message handled, its own
// closed handler run) and closed; one cut off from NATS is closed at
// once without an error, since nothing can be flushed; one whose drain
// outlives the shutdown grace is closed and the stage says so.
func TestIntegrationDrain(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	dial := func(t *testing.T) *nats.Conn {
		t.Helper()
		nc, err := nats.Connect(srv.URL(), nats.ReconnectWait(10*time.Millisecond), nats.MaxReconnects(-1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}

	t.Run("connected: the last message is handled, then closed", func(t *testing.T) {
		nc := dial(t)
		handled := make(chan string, 1)
		if _, err := nc.Subscribe("drain.last", func(m *nats.Msg) { handled <- string(m.Data) }); err != nil {
			t.Fatal(err)
		}
		var ownHandler bool
		nc.SetClosedHandler(func(*nats.Conn) { ownHandler = true })
		if err := nc.Publish("drain.last", []byte("bye")); err != nil {
			t.Fatal(err)
		}
		if err := Drain(nc, slog.New(slog.DiscardHandler))(t.Context()); err != nil {
			t.Fatalf("Drain = %v", err)
		}
		if !nc.IsClosed() || !ownHandler {
			t.Errorf("closed %v, service's closed handler ran %v; want both", nc.IsClosed(), ownHandler)
		}
		select {
		case got := <-handled:
			if got != "bye" {
				t.Errorf("handled %q", got)
			}
		default:
			t.Error("the message published before the drain was not handled")
		}
		if err := Drain(nc, slog.New(slog.DiscardHandler))(t.Context()); err != nil {
			t.Errorf("Drain of a closed connection = %v, want nil", err)
		}
	})

	t.Run("drain outlives the grace", func(t *testing.T) {
		nc := dial(t)
		started, release := make(chan struct{}), make(chan struct{})
		if _, err := nc.Subscribe("drain.slow", func(*nats.Msg) {
			close(started)
			<-release
		}); err != nil {
			t.Fatal(err)
		}
		defer close(release)
		if err := nc.Publish("drain.slow", nil); err != nil {
			t.Fatal(err)
		}
		<-started
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // the grace is already over
		err := Drain(nc, slog.New(slog.DiscardHandler))(ctx)
		if err == nil || !strings.Contains(err.Error(), "shutdown grace") {
			t.Errorf("Drain = %v, want the grace ended", err)
		}
		if !nc.IsClosed() {
			t.Error("connection left open after the grace")
		}
	})

	// Last: it stops the server the other cases use.
	t.Run("cut off: closed without draining", func(t *testing.T) {
		nc := dial(t)
		srv.Shutdown()
		testkit.Eventually(t, "client reconnecting", nc.IsReconnecting)
		var logs bytes.Buffer
		if err := Drain(nc, slog.New(slog.NewJSONHandler(&logs, nil)))(t.Context()); err != nil {
			t.Errorf("Drain while reconnecting = %v, want nil", err)
		}
		if !nc.IsClosed() || !strings.Contains(logs.String(), "closed without draining") {
			t.Errorf("closed %v, log %q", nc.IsClosed(), logs.String())
		}
	})
}

// TestIntegrationEnsureAllAndBuckets: a service declares its streams and
// buckets in turn at start; each is there afterwards, a second start
// changes nothing, and the first spec that cannot apply stops the rest
// with its name in the error.
func TestIntegrationEnsureAllAndBuckets(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := t.Context()
	specs := []Spec{
		{Name: "ENSUREA", Subjects: []string{"ensurea.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20},
		{Name: "ENSUREB", Subjects: []string{"ensureb.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20},
	}
	buckets := []BucketSpec{{Name: "ENSUREC", TTL: time.Hour, MaxBytes: 1 << 20}, {Name: "ENSURED", MaxBytes: 1 << 20}}
	for range 2 {
		if err := EnsureAll(ctx, js, specs...); err != nil {
			t.Fatalf("EnsureAll = %v", err)
		}
		if err := EnsureBuckets(ctx, js, buckets...); err != nil {
			t.Fatalf("EnsureBuckets = %v", err)
		}
	}
	for _, s := range specs {
		if got := config(t, js, s.Name); got.MaxBytes != s.MaxBytes {
			t.Errorf("stream %s max_bytes %d, want %d", s.Name, got.MaxBytes, s.MaxBytes)
		}
	}
	for _, b := range buckets {
		if _, err := js.ObjectStore(ctx, b.Name); err != nil {
			t.Errorf("bucket %s: %v", b.Name, err)
		}
	}

	narrower := specs[1]
	narrower.MaxBytes = 1 << 10
	if err := EnsureAll(ctx, js, specs[0], narrower); err == nil || !strings.Contains(err.Error(), "ENSUREB") {
		t.Errorf("EnsureAll with a narrower spec = %v, want an error naming ENSUREB", err)
	}
	smaller := buckets[0]
	smaller.MaxBytes = 1 << 10
	if err := EnsureBuckets(ctx, js, smaller); err == nil || !strings.Contains(err.Error(), "ENSUREC") {
		t.Errorf("EnsureBuckets with a smaller bucket = %v, want an error naming ENSUREC", err)
	}
}

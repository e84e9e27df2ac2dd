package natstest_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/testkit"
)

// TestWaitAcked: WaitAcked returns once the consumer has acked up to the
// sequence, and not while a message is delivered but unacknowledged.
func TestWaitAcked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := natstest.Start(t)
	_, js := natstest.JetStream(t, ns.URL())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ACKED", Subjects: []string{"acked.>"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateConsumer(ctx, "ACKED", jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if got := natstest.LastSeq(t, js, "ACKED"); got != 0 {
		t.Fatalf("LastSeq of an empty stream = %d", got)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "acked.x", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	last := natstest.LastSeq(t, js, "ACKED")
	if last != 3 {
		t.Fatalf("LastSeq = %d, want 3", last)
	}

	// Two acked, the third delivered and held: WaitAcked must not return.
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var held jetstream.Msg
	for msg := range batch.Messages() {
		if meta, _ := msg.Metadata(); meta.Sequence.Stream == last {
			held = msg
			continue
		}
		if err := msg.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if held == nil {
		t.Fatal("the third message was not delivered")
	}
	f := failing(t, func(tb testing.TB) {
		natstest.WaitAcked(tb, js, "ACKED", "reader", last, testkit.Timeout(100*time.Millisecond))
	})
	if !f {
		t.Fatal("WaitAcked returned while a message was unacknowledged")
	}
	if err := held.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	natstest.WaitAcked(t, js, "ACKED", "reader", last)
}

// failing runs fn with a TB whose Fatalf ends fn, and reports whether fn
// failed.
func failing(t *testing.T, fn func(tb testing.TB)) bool {
	t.Helper()
	tb := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb.failed
}

type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	runtime.Goexit()
}

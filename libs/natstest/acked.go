package natstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/testkit"
)

// WaitAcked waits until the durable consumer of stream has acknowledged
// or terminated every message up to the stream sequence seq: its ack
// floor has reached seq and nothing it was given is still unacknowledged.
//
// This is how a test asserts that nothing more arrives: a consumer acks a
// message only after its effect (an email, a row), so once WaitAcked
// returns, every effect of those messages has happened, and a count taken
// then is final. Pending counts alone can read zero for a moment after a
// publish, and a sleep passes whenever the duplicate is late.
func WaitAcked(t testing.TB, js jetstream.JetStream, stream, durable string, seq uint64, opts ...testkit.Option) {
	t.Helper()
	testkit.EventuallyErr(t, fmt.Sprintf("consumer %s of %s to ack up to %d", durable, stream, seq), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := js.Consumer(ctx, stream, durable)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.AckFloor.Stream < seq || info.NumAckPending > 0 {
			return fmt.Errorf("ack floor %d, %d unacknowledged, %d pending", info.AckFloor.Stream, info.NumAckPending, info.NumPending)
		}
		return nil
	}, opts...)
}

// LastSeq is the stream sequence of the last message in stream, 0 when
// it is empty.
func LastSeq(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Scaled(testkit.DefaultTimeout))
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("natstest: stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("natstest: stream %s: %v", stream, err)
	}
	return info.State.LastSeq
}

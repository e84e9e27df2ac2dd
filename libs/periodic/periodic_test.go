package periodic_test

import (
	"context"
	"testing"
	"time"

	"github.com/acube/platform/libs/periodic"
	"github.com/acube/platform/libs/testkit"
)

// TestRunCallsAtOnceThenEveryIntervalUntilCancelled: three calls come
// (the first at once, then on the ticker) and Run returns once cancelled.
// Each wait is bounded, so a Run that stops calling or never returns
// fails the test instead of hanging it until go test's timeout.
func TestRunCallsAtOnceThenEveryIntervalUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		periodic.Run(ctx, time.Millisecond, func(context.Context) {
			select {
			case calls <- struct{}{}:
			default: // the test has seen enough; never block Run
			}
		})
	}()
	bound := time.After(testkit.Scaled(testkit.DefaultTimeout))
	for i := range 3 {
		select {
		case <-calls:
		case <-bound:
			t.Fatalf("only %d calls within %s", i, testkit.Scaled(testkit.DefaultTimeout))
		}
	}
	cancel()
	select {
	case <-done:
	case <-bound:
		t.Fatal("Run did not return after its context was cancelled")
	}
}

// TestRunCallsOnceWhenCancelledBefore: a cancelled context still gets the
// first call (housekeeping at start), then Run returns.
func TestRunCallsOnceWhenCancelledBefore(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	periodic.Run(ctx, time.Hour, func(context.Context) { n++ })
	if n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

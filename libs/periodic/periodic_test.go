package periodic_test

import (
	"context"
	"testing"
	"time"

	"github.com/acube/platform/libs/periodic"
)

func TestRunCallsAtOnceThenEveryIntervalUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		periodic.Run(ctx, time.Millisecond, func(context.Context) { calls <- struct{}{} })
	}()
	for range 3 { // the first at once, then on the ticker
		<-calls
	}
	cancel()
	<-done
}

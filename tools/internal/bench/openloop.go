package bench

import (
	"context"
	"sync"
	"time"
)

// OpenLoop offers load at a fixed rate for a duration, whatever the
// system under test does: request i is due at start + i/rate and is sent
// then in its own goroutine, so a slow answer delays no later request
// (no coordinated omission). fire gets the due time, from which latency
// is to be measured. OpenLoop returns once every fire has returned and
// reports how many requests it offered.
func OpenLoop(ctx context.Context, rate float64, d time.Duration, fire func(ctx context.Context, i int, due time.Time)) int {
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	sent := 0
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				wg.Wait()
				return sent
			case <-t.C:
			}
		}
		sent++
		wg.Go(func() { fire(ctx, i, due) })
	}
	wg.Wait()
	return sent
}

package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Load is an open-loop schedule, the one load generator of the platform's
// benchmarks: Rate requests per second for Warmup+Duration, request i due
// at start + i/Rate whatever the system under test does. Senders
// goroutines send them, as wrk2 does: sender s owns requests s, s+Senders,
// s+2·Senders… and sends each when due, or at once when an earlier answer
// made it late. Latency is to be measured from Request.Due, never from
// the send, so a stall counts against every request it delays and a slow
// system cannot slow the load it is measured under (no coordinated
// omission). Sent.Late says how often a request left over a millisecond
// after its due time. Run suits callers that need a callback per request
// (their own client); at tens of thousands of requests per second on a
// shared CPU its goroutines and Go timers are late themselves, and
// RunRawHTTP, for one HTTP/1.1 server, keeps the same schedule precisely.
type Load struct {
	Rate             float64
	Warmup, Duration time.Duration
	// Senders is the number of sending goroutines (connections, for a
	// generator that keeps one per sender); 1 if not set.
	Senders int
}

// Request is one request of a Load.
type Request struct {
	// Index counts the run's requests from 0, warm-up included.
	Index int
	// Sender is the goroutine sending it, in [0, Senders), so that a
	// caller can keep per-sender state (a connection, a result slice)
	// without locks.
	Sender int
	// Due is when the request was to be sent; latency runs from here.
	Due time.Time
	// Warmup marks a request due in the warm-up: send it, do not count it.
	Warmup bool
}

// Sent is what a Load offered.
type Sent struct {
	// Offered counts the requests sent, Measured those after the warm-up.
	Offered, Measured int
	// Late counts requests sent over a millisecond after they were due,
	// measured when they were sent (their latency still runs from the due
	// time).
	Late int
}

// Run offers the load, calling fire for every request from its sender's
// goroutine, and returns once every fire has returned or ctx ends.
func (l Load) Run(ctx context.Context, fire func(ctx context.Context, r Request)) (Sent, error) {
	if l.Rate <= 0 {
		return Sent{}, fmt.Errorf("open loop: rate %g must be positive", l.Rate)
	}
	senders := max(l.Senders, 1)
	total := int(l.Rate * (l.Warmup + l.Duration).Seconds())
	warm := int(l.Rate * l.Warmup.Seconds())
	interval := time.Duration(float64(time.Second) / l.Rate)
	start := time.Now().Add(20 * time.Millisecond) // every sender running before the first is due
	sent := make([]Sent, senders)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			st := &sent[s]
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for i := s; i < total; i += senders {
				due := start.Add(time.Duration(i) * interval)
				if wait := time.Until(due); wait > 0 {
					timer.Reset(wait)
					select {
					case <-ctx.Done():
						return
					case <-timer.C:
					}
				}
				// Counted after the wait too: a timer wakes up to a
				// millisecond late (see RunRawHTTP).
				if time.Since(due) > time.Millisecond {
					st.Late++
				}
				if ctx.Err() != nil {
					return
				}
				st.Offered++
				if i >= warm {
					st.Measured++
				}
				fire(ctx, Request{Index: i, Sender: s, Due: due, Warmup: i < warm})
			}
		})
	}
	wg.Wait()
	var all Sent
	for _, st := range sent {
		all.Offered += st.Offered
		all.Measured += st.Measured
		all.Late += st.Late
	}
	return all, ctx.Err()
}

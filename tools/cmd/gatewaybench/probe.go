package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// probeOptions are the flags of `gatewaybench openloop`.
type probeOptions struct {
	url              string
	rate             float64
	warmup, duration time.Duration
	conns            int
	generator        string // "raw" (RunRawHTTP) or "goroutines" (Run)
}

// probe runs the benchmark's open loop alone against one URL and prints
// its p50, p99, late count and the generator's own CPU per request: the
// way to check that the generator measures the system, not itself (run it
// against the upstream direct, pinned as `run` pins it).
func probe(ctx context.Context, p probeOptions, out io.Writer) error {
	c := &config{key: "x", name: p.url, url: p.url, openLoop: true}
	o := options{conns: p.conns, warmup: p.warmup, duration: p.duration}
	userBefore, sysBefore := procUserSys(os.Getpid())
	measure := latency
	switch p.generator {
	case "raw":
	case "goroutines":
		measure = latencyGoroutines
	default:
		return fmt.Errorf("unknown generator %q: want raw or goroutines", p.generator)
	}
	if err := measure(ctx, o, c, p.rate); err != nil {
		return err
	}
	userAfter, sysAfter := procUserSys(os.Getpid())
	n := p.rate * (p.warmup + p.duration).Seconds()
	perReq := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / n }
	fmt.Fprintf(out, "open loop (%s) %s at %.0f req/s over %d connections for %s: p50 %s  p99 %s  send-lag p99 %s  late %d  errors %d (%v)  generator CPU %.1f µs/req user, %.1f µs/req system\n",
		p.generator, p.url, p.rate, p.conns, p.duration, ms(c.p50s[0]), ms(c.p99s[0]), ms(c.lagP99s[0]), c.late, c.errors, c.firstErr, perReq(userAfter-userBefore), perReq(sysAfter-sysBefore))
	return nil
}

// Command gatewaybench measures the gateway against its references in one
// run on one machine (DESIGN §7): (a) the upstream direct, (b) the gateway
// without limits, (c) the gateway with Redis limits and (d) nginx
// proxy_pass + limit_req, all in front of the same upstream. The ceiling is
// closed loop (wrk); latencies are open loop at a fixed rate, each measured
// from the moment its request was due, so a stall counts against every
// request it delays (no coordinated omission). It also compares limiter
// decisions/s with redis-benchmark -t incr at the same client count.
//
//	gatewaybench upstream -addr 127.0.0.1:18080   # the upstream (used by run)
//	gatewaybench run -gateway bin/gateway          # the whole benchmark
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: gatewaybench upstream|run [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "upstream":
		addr := fs.String("addr", "127.0.0.1:18080", "listen address")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serveUpstream(ctx, *addr)
	case "run":
		var o options
		fs.StringVar(&o.gateway, "gateway", "bin/gateway", "gateway binary")
		fs.StringVar(&o.redisURL, "redis", "", "Redis for the limited gateway and the limiter benchmark; empty starts a private redis-server on the load CPU")
		fs.DurationVar(&o.duration, "duration", defaultDuration, "length of each measurement")
		fs.IntVar(&o.conns, "conns", 64, "connections of the closed-loop load generator")
		fs.IntVar(&o.clients, "clients", 50, "concurrent clients of the limiter benchmark (as redis-benchmark -c)")
		fs.StringVar(&o.sutCPU, "sut-cpu", "0", "CPU list the system under test (gateway or nginx) is pinned to")
		fs.StringVar(&o.loadCPU, "load-cpu", "1", "CPU list of the load generator and the upstream")
		fs.Float64Var(&o.rate, "rate", 0, "open-loop rate in req/s; 0 is half the limited gateway's ceiling")
		fs.IntVar(&o.rounds, "rounds", 3, "open-loop rounds; each visits every target, and the medians are reported")
		fs.DurationVar(&o.warmup, "warmup", time.Second, "open-loop warm-up before each measurement, sent but not counted")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return benchmark(ctx, o, stdout)
	default:
		return fmt.Errorf("unknown command %q: want upstream or run", args[0])
	}
}

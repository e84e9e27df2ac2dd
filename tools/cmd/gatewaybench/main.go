// Command gatewaybench measures the gateway against its references in one
// run on one machine (DESIGN §7), all in front of the same upstream:
//
//	(a)  the upstream direct
//	(b)  the gateway without limits
//	(c)  the gateway with Redis limits (public tier raised out of reach)
//	(d)  nginx proxy_pass + limit_req
//	(e)  the same nginx also setting the fields the gateway sets (request
//	     id, X-Real-IP, X-Forwarded-*, the security fields; not the
//	     rate-limit ones, which nginx cannot), closed loop, for the record
//	(b′) (c′) the same gateways on the net/http data path
//	     (GATEWAY_DATA_PATH=nethttp), for the record
//
// Every figure is measured in -rounds interleaved rounds after a discarded
// warm-up pass, each visiting every configuration, compared pairs side by
// side, in ABBA order (roundOrder), and a comparison is reported as the
// median of its per-round ratios with their spread (libs/benchresult):
//
//   - req/s closed loop (wrk -t1 -c<conns>) and the CPU each request cost
//     the system under test (plus Redis where Redis decides), read from
//     /proc; (c)/(d) req/s ≥ 0.9 and CPU (c)/(d) ≤ 1.2 are the targets;
//   - the p99 each configuration adds over the upstream direct at half the
//     limited gateway's ceiling, open loop (tools/internal/bench.Load's
//     RunRawHTTP, one event loop: latency from each request's due time, no
//     coordinated omission, the generator's send lag reported beside it);
//     target ≤ 1 ms for (c);
//   - limiter decisions/s (services/gateway/cmd/limiterbench, which needs
//     the gateway's internal packages) on a generous tier that may lease
//     tokens and on a strict tier decided exactly in Redis, each against
//     `redis-benchmark -t incr` with the same client count; target ≥ 1.5×
//     on the generous tier;
//   - a flood of -flood requests from one client far over the default
//     public tier (10/minute), with the Redis commands it cost counted by
//     the private redis-server's INFO commandstats; target < 1,000.
//
// The system under test (a gateway, nginx, limiterbench,
// redis-benchmark, and for (a) a second instance of the upstream) runs on
// -sut-cpu; the load generators, the proxies' upstream and Redis on
// -load-cpu: the same for every configuration.
//
// It lives under tools (not in the gateway module) because it only drives
// built binaries: bin/gateway, bin/limiterbench, nginx, wrk, redis-server.
//
//	gatewaybench upstream -addr 127.0.0.1:18080   # the upstream (used by run)
//	gatewaybench openloop -url http://127.0.0.1:18080/api/events -rate 19000   # the open loop alone
//	gatewaybench run -gateway bin/gateway -limiterbench bin/limiterbench
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

	"github.com/acube/platform/libs/benchresult"
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
		return errors.New("usage: gatewaybench upstream|openloop|run [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "upstream":
		addr := fs.String("addr", "127.0.0.1:18080", "listen address")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serveUpstream(ctx, *addr)
	case "openloop":
		var p probeOptions
		fs.StringVar(&p.url, "url", "http://127.0.0.1:18080/api/events", "URL to offer the open loop to")
		fs.Float64Var(&p.rate, "rate", 10000, "requests per second")
		fs.DurationVar(&p.warmup, "warmup", time.Second, "warm-up, sent but not counted")
		fs.DurationVar(&p.duration, "duration", 5*time.Second, "measurement")
		fs.IntVar(&p.conns, "conns", 64, "connections (senders)")
		fs.StringVar(&p.generator, "generator", "raw", "raw (bench.Load.RunRawHTTP, what run uses) or goroutines (bench.Load.Run, the callback generator)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if p.rate <= 0 || p.conns < 1 {
			return errors.New("-rate and -conns must be positive")
		}
		return probe(ctx, p, stdout)
	case "run":
		var o options
		fs.StringVar(&o.gateway, "gateway", "bin/gateway", "gateway binary")
		fs.StringVar(&o.limiterbench, "limiterbench", "bin/limiterbench", "limiter benchmark binary (services/gateway/cmd/limiterbench)")
		fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each measurement")
		fs.IntVar(&o.rounds, "rounds", benchresult.DefaultRounds, "interleaved rounds; medians and the spread of per-round ratios are reported")
		fs.IntVar(&o.conns, "conns", 64, "connections of the closed-loop and open-loop load generators")
		fs.IntVar(&o.clients, "clients", 50, "goroutines of the limiter benchmark, and redis-benchmark's -c")
		fs.StringVar(&o.sutCPU, "sut-cpu", "0", "CPU list of the system under test (gateway, nginx, limiterbench, redis-benchmark, (a)'s upstream)")
		fs.StringVar(&o.loadCPU, "load-cpu", "1", "CPU list of the load generators, the proxies' upstream and Redis")
		fs.Float64Var(&o.rate, "rate", 0, "open-loop rate in req/s; 0 is half the limited gateway's ceiling in the first round")
		fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each measurement, sent but not counted")
		fs.IntVar(&o.flood, "flood", 100000, "requests of the over-limit flood; 0 skips it")
		fs.BoolVar(&o.nethttp, "nethttp", true, "also measure the gateways on the net/http data path (GATEWAY_DATA_PATH=nethttp)")
		fs.BoolVar(&o.nginxFields, "nginx-fields", true, "also measure nginx setting the gateway's fields (e), closed loop")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if o.rounds < 1 || o.conns < 1 || o.clients < 1 || o.duration < time.Second {
			return errors.New("-rounds, -conns and -clients must be positive and -duration at least 1s")
		}
		return benchmark(ctx, o, stdout)
	default:
		return fmt.Errorf("unknown command %q: want upstream, openloop or run", args[0])
	}
}

// Command e2ebench measures two end-to-end figures of DESIGN §7 and prints
// them, with one machine-readable result line each (libs/benchresult),
// for `make bench`:
//
//   - booking accepted → email accepted by SMTP: the real booking and
//     mailer binaries (built from this repository, run as child processes)
//     against a fresh database, an in-process JetStream server and an
//     in-process SMTP sink that timestamps each message when it accepts it.
//     Bookings are offered open loop at fixed rates (a rising series, then
//     a steady rate); latency runs from each booking's scheduled send time
//     to its email's acceptance, so a slow system cannot slow the load.
//   - the outbox relay's events per second into JetStream against `nats
//     bench js pub async` publishing as many messages of the same size, with
//     message ids, in batches of the same size, to the same stream, in
//     -rounds interleaved rounds (median ratio and its spread).
//
// It lives under tools because it drives built binaries and public
// packages only; its open-loop load is tools/internal/bench.Load.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/acube/platform/libs/benchresult"
)

// options are the command's settings, from flags.
type options struct {
	mode       string
	dbURL      string
	rates      []float64
	step       time.Duration
	steadyRate float64
	steady     time.Duration
	drain      time.Duration
	viaGateway bool
	events     int
	natsBin    string
	targetP99  time.Duration
	verbose    bool
	timeline   bool
	warmup     time.Duration
	rounds     int
	syncCommit bool
	repeat     int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2ebench:", err)
		os.Exit(2)
	}
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "e2ebench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	var rates string
	fs := flag.NewFlagSet("e2ebench", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "all", "what to measure: all, latency or relay")
	fs.StringVar(&o.dbURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL server; a scratch database is created on it and dropped at the end")
	fs.StringVar(&rates, "rates", "50,100,200,400", "bookings per second of the rising series, comma-separated")
	fs.DurationVar(&o.step, "step", 10*time.Second, "how long each rate of the series is offered")
	fs.Float64Var(&o.steadyRate, "steady-rate", 200, "bookings per second of the steady run (DESIGN §7: 200)")
	fs.DurationVar(&o.steady, "steady", 30*time.Second, "length of the steady run")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second,
		"before each measured run, offer its rate this long unmeasured: a step in load grows the services' connection pools, which is not the steady state the target is about")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "how long to wait for the last emails of a run")
	fs.BoolVar(&o.viaGateway, "gateway", false, "book through the gateway (public tier raised, limits in Redis) instead of straight at booking")
	fs.IntVar(&o.events, "events", 50000, "outbox events the relay drains, and messages nats bench publishes, per run")
	fs.IntVar(&o.repeat, "repeat", 4, "runs of -events per side per round, timed together: enough that each side runs for seconds, not a start-up and a burst")
	fs.IntVar(&o.rounds, "rounds", benchresult.DefaultRounds, "interleaved rounds of relay and nats bench; the median ratio and its spread are reported")
	fs.BoolVar(&o.syncCommit, "relay-sync-commit", false, "run the relay with outbox.RelayConfig.SyncCommit (each batch's commit waits for its WAL flush), to measure what that costs")
	fs.StringVar(&o.natsBin, "nats", "bin/nats", "natscli binary for nats bench; when missing, an equivalent async publish loop is the reference")
	fs.DurationVar(&o.targetP99, "target-p99", 50*time.Millisecond, "p99 target of the steady run")
	fs.BoolVar(&o.verbose, "v", false, "show the services' log lines")
	fs.BoolVar(&o.timeline, "timeline", false, "print each second's p50 and max of every run, to see whether slow emails come in bursts")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for s := range strings.SplitSeq(rates, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			return o, fmt.Errorf("-rates: %q is not a positive rate", s)
		}
		o.rates = append(o.rates, r)
	}
	switch o.mode {
	case "all", "latency", "relay":
	default:
		return o, fmt.Errorf("-mode %q: want all, latency or relay", o.mode)
	}
	if o.steadyRate <= 0 || o.events <= 0 || o.rounds <= 0 || o.repeat <= 0 {
		return o, fmt.Errorf("-steady-rate, -events, -repeat and -rounds must be positive")
	}
	return o, nil
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	if o.mode == "all" || o.mode == "latency" {
		if err := latency(ctx, o, stdout); err != nil {
			return err
		}
	}
	if o.mode == "all" || o.mode == "relay" {
		if err := relay(ctx, o, stdout); err != nil {
			return err
		}
	}
	return nil
}

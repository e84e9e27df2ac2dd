// Command mailbench measures emails per second through the mailer against
// a bare SMTP send loop to the same sink (DESIGN §7: target ≥ 0.8×), and
// prints the figures and writes them as markdown (make bench-mailer).
//
// One process holds the SMTP sink and an embedded NATS server; PostgreSQL
// is the local server (a scratch database, dropped at the end). The bare
// loop sends a pre-rendered email with go-mail over open connections and
// nothing else: go-mail builds the message for every send and runs MAIL,
// RCPT, DATA and the content one after the other, as the mailer did
// before it ran its own transactions. The mailer run is the real consumer
// path with the mailer's production defaults (internal/config; flags
// override them): N booking.session.booked events wait in a JetStream
// stream, and the mailer's durable consumer fetches batches of waiting
// events, decodes and renders them, looks their ids up, sends over its
// pooled SMTP connections (pipelined where the server offers PIPELINING)
// and group-commits each accepted email's record right after its send,
// then acks. It also reports the resend window: the time from each 250
// reply to the commit of its record.
//
// Each round measures the bare loop and the mailer one right after the
// other (which of them goes first alternates), each run after a
// PostgreSQL checkpoint and with 10000 emails (about 2 s on the discard
// sink, 6 s on the spool sink), after a warm-up; the figures go out
// as benchresult lines (libs/benchresult): the median of the per-round
// ratios with their spread. It stays in the mailer module, not under
// tools, because it drives the mailer's internal packages (delivery,
// sender, email, templates), which Go's internal rule keeps to this module.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	netmail "net/mail"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/services/mailer/internal/config"
	"github.com/acube/platform/services/mailer/internal/delivery"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
	"github.com/acube/platform/services/mailer/internal/templates"
)

type options struct {
	n           int
	rounds      int
	conns       int
	concurrency int
	batch       int
	sinks       string
	dbURL       string
	out         string
	target      float64
	cpuprofile  string
	// mailer holds the defaults of every other setting.
	mailer config.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The mailer runs with its production defaults unless a flag says
	// otherwise.
	def, err := config.Load(func(k string) (string, bool) {
		if k == "MAILER_LINK_SECRET" { // required, and irrelevant to the figures
			return strings.Repeat("b", managelink.MinSecretLen), true
		}
		return "", false
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailbench: mailer defaults:", err)
		os.Exit(1)
	}
	o := options{mailer: def}
	flag.IntVar(&o.n, "n", 10000, "emails per run: enough that a run lasts seconds on either sink, not a start-up and a burst")
	flag.IntVar(&o.rounds, "rounds", benchresult.DefaultRounds, "rounds per sink; each runs the references and the mailer; medians are reported")
	flag.IntVar(&o.conns, "conns", def.SMTP.Conns, "SMTP connections (SMTP_CONNS) of the mailer and of the parallel reference")
	flag.IntVar(&o.concurrency, "concurrency", def.Concurrency, "batches handled at once (MAILER_CONCURRENCY)")
	flag.IntVar(&o.batch, "batch", def.BatchSize, "most events per transaction (MAILER_BATCH_SIZE)")
	flag.StringVar(&o.sinks, "sinks", "discard,spool", "sinks: discard (counts, keeps nothing) and spool (fsyncs each message before 250, like an MTA)")
	flag.StringVar(&o.dbURL, "database-url", envOr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"PostgreSQL server; a scratch database is created on it and dropped")
	flag.StringVar(&o.out, "out", "", "also write the results as markdown to this file")
	flag.Float64Var(&o.target, "target", 0.8, "ratio mailer / bare loop to reach")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	flag.Parse()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mailbench:", err)
		os.Exit(1)
	}
}

// rates are one round's emails per second.
type rates struct {
	bare1, bareN, mailer float64
}

// outcome is one sink's rounds and medians.
type outcome struct {
	sink   string
	rounds []rates
	median rates
	ratio1 float64 // median over rounds of mailer / bare1
	ratioN float64 // median over rounds of mailer / bareN
	// lo1 and hi1 are the spread of mailer / bare1 over the rounds.
	lo1, hi1 float64
	// window is the resend window over the timed mailer runs.
	window window
}

func (o outcome) verdict(target float64) string {
	if o.ratio1 >= target {
		return "PASS"
	}
	return "FAIL"
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	c, from, err := composer()
	if err != nil {
		return err
	}
	env, err := newEnvironment(ctx, o)
	if err != nil {
		return err
	}
	defer env.close()
	loadStart := benchresult.LoadAverage()
	fmt.Fprintf(stdout, "mailbench: %d emails per run, %d rounds, %d CPUs (load average %s); mailer with %s\n",
		o.n, o.rounds, runtime.NumCPU(), loadStart, o.settings())

	var outs []outcome
	for kind := range strings.SplitSeq(o.sinks, ",") {
		out, err := measure(ctx, env, c, from, strings.TrimSpace(kind), o, stdout)
		if err != nil {
			return err
		}
		outs = append(outs, out)
	}
	fmt.Fprintf(stdout, "\nmailer benchmark (medians of %d rounds, emails/s):\n", o.rounds)
	for _, out := range outs {
		fmt.Fprintf(stdout, "  sink %-8s bare loop %6.0f  bare loops x%d %6.0f  mailer %6.0f  mailer/bare loop %.2fx (%.2f-%.2fx; target >= %.1fx: %s)  mailer/bare loops x%d %.2fx\n",
			out.sink, out.median.bare1, o.conns, out.median.bareN, out.median.mailer, out.ratio1, out.lo1, out.hi1, o.target,
			out.verdict(o.target), o.conns, out.ratioN)
		fmt.Fprintf(stdout, "  sink %-8s resend window (250 reply to committed record): %s\n", out.sink, out.window)
	}
	for _, out := range outs {
		var mailer, bare1 []float64
		for _, r := range out.rounds {
			mailer, bare1 = append(mailer, r.mailer), append(bare1, r.bare1)
		}
		if err := benchresult.Print(stdout, benchresult.Result{Area: "mailer", Name: "mailer emails/s, " + out.sink + " sink",
			Unit: "emails/s", Ref: "bare SMTP send loop, same sink", Min: o.target,
			Note: fmt.Sprintf("%d emails per run; mailer / %d bare loops %.2f×", o.n, o.conns, out.ratioN)}.FromRounds(mailer, bare1)); err != nil {
			return err
		}
	}
	if o.out != "" {
		if err := writeReport(o, outs, loadStart); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "written to %s\n", o.out)
	}
	return nil
}

// measure runs the rounds against one kind of sink.
func measure(ctx context.Context, env *environment, c *email.Composer, from *netmail.Address, kind string, o options, stdout io.Writer) (outcome, error) {
	opts := smtptest.Options{Discard: true}
	switch kind {
	case "discard":
	case "spool":
		dir, err := os.MkdirTemp("", "mailbench-spool-")
		if err != nil {
			return outcome{}, fmt.Errorf("spool dir: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.Spool = dir
	default:
		return outcome{}, fmt.Errorf("unknown sink %q: want discard or spool", kind)
	}
	sink, err := smtptest.Start(opts)
	if err != nil {
		return outcome{}, err
	}
	defer sink.Close()
	snd, err := sender.NewSMTP(sender.SMTPConfig{Host: sink.Host(), Port: sink.Port(), Conns: o.conns,
		Timeout: o.mailer.SMTP.Timeout}, from, env.log)
	if err != nil {
		return outcome{}, err
	}
	defer snd.Close()
	handler := delivery.New(c, snd, nil, env.dm, env.log)

	// Warm the sink, the connections and the code paths, untimed: a whole
	// run of each, as a shorter one left the first timed mailer run a
	// third slower than the rest (its database pool still growing, its
	// statements still being prepared and planned).
	if _, err := bare(ctx, sink, c, from, o.n, o.conns); err != nil {
		return outcome{}, err
	}
	if _, err := env.mailer(ctx, sink, handler, o.n, o); err != nil {
		return outcome{}, err
	}
	out := outcome{sink: kind}
	before, err := env.unrecorded()
	if err != nil {
		return outcome{}, err
	}
	for i := range o.rounds {
		var r rates
		// The two figures of the ratio, the bare loop and the mailer, run
		// one right after the other, in turn first (bare loop, mailer,
		// bare loops xN; then bare loops xN, mailer, bare loop), so a
		// drift of the machine over a round weighs on both alike. Before
		// each run PostgreSQL checkpoints (untimed): a checkpoint's writes
		// then never land in one run by chance, which on the spool sink,
		// whose every message is an fsync, costs the run that meets them.
		runs := []func() error{
			func() (err error) { r.bare1, err = bare(ctx, sink, c, from, o.n, 1); return err },
			func() (err error) { r.mailer, err = env.mailer(ctx, sink, handler, o.n, o); return err },
			func() (err error) { r.bareN, err = bare(ctx, sink, c, from, o.n, o.conns); return err },
		}
		if i%2 == 1 {
			runs[0], runs[2] = runs[2], runs[0]
		}
		for _, run := range runs {
			if err := env.checkpoint(ctx); err != nil {
				return outcome{}, err
			}
			if err := run(); err != nil {
				return outcome{}, err
			}
		}
		fmt.Fprintf(stdout, "  sink %-8s round %d: bare loop %6.0f/s  bare loops x%d %6.0f/s  mailer %6.0f/s  ratio %.2fx\n",
			kind, i+1, r.bare1, o.conns, r.bareN, r.mailer, r.mailer/r.bare1)
		out.rounds = append(out.rounds, r)
	}
	after, err := env.unrecorded()
	if err != nil {
		return outcome{}, err
	}
	out.window = after.since(before)
	out.median = rates{
		bare1:  median(out.rounds, func(r rates) float64 { return r.bare1 }),
		bareN:  median(out.rounds, func(r rates) float64 { return r.bareN }),
		mailer: median(out.rounds, func(r rates) float64 { return r.mailer }),
	}
	out.ratio1 = median(out.rounds, func(r rates) float64 { return r.mailer / r.bare1 })
	out.lo1, out.hi1 = spread(out.rounds, func(r rates) float64 { return r.mailer / r.bare1 })
	out.ratioN = median(out.rounds, func(r rates) float64 { return r.mailer / r.bareN })
	return out, nil
}

// spread is the lowest and highest value of f over the rounds.
func spread(rs []rates, f func(rates) float64) (lo, hi float64) {
	for i, r := range rs {
		v := f(r)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

func median(rs []rates, f func(rates) float64) float64 {
	v := make([]float64, 0, len(rs))
	for _, r := range rs {
		v = append(v, f(r))
	}
	return benchresult.Median(v)
}

// composer renders the benchmark's email exactly as the mailer does.
func composer() (*email.Composer, *netmail.Address, error) {
	set, err := templates.Load()
	if err != nil {
		return nil, nil, err
	}
	links, err := managelink.NewSigner([]byte(strings.Repeat("b", managelink.MinSecretLen)))
	if err != nil {
		return nil, nil, err
	}
	c, err := email.NewComposer(set, "http://localhost:8001", links, time.UTC, "acube.local")
	if err != nil {
		return nil, nil, err
	}
	from, err := netmail.ParseAddress("A-Cube <no-reply@acube.local>")
	if err != nil {
		return nil, nil, fmt.Errorf("parse from: %w", err)
	}
	return c, from, nil
}

// settings names the mailer's settings of the run.
func (o options) settings() string {
	return fmt.Sprintf("SMTP_CONNS=%d, MAILER_CONCURRENCY=%d, MAILER_BATCH_SIZE=%d, MAILER_DB_MAX_CONNS=%d, LOG_LEVEL=%s, MAIL_RATE unlimited",
		o.conns, o.concurrency, o.batch, o.mailer.DBMaxConns, o.mailer.LogLevel)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

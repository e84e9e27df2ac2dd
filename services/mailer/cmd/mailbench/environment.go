package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/mailer/internal/delivery"
	"github.com/acube/platform/services/mailer/internal/migrations"
)

// environment is what the mailer runs on, built once: an embedded NATS
// server with the BOOKING stream, a scratch database with the mailer's
// schema, a logger (JSON, discarded: formatting is paid, writing is not)
// and the metrics.
type environment struct {
	js    jetstream.JetStream
	pool  *pgxpool.Pool
	log   *slog.Logger
	cm    *consume.Metrics
	dm    *delivery.Metrics
	reg   *prometheus.Registry
	close func()
}

func newEnvironment(ctx context.Context, o options) (_ *environment, err error) {
	var cleanups []func()
	env := &environment{close: func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	dir, err := os.MkdirTemp("", "mailbench-nats-")
	if err != nil {
		return nil, fmt.Errorf("nats store: %w", err)
	}
	cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	cleanups = append(cleanups, func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		return nil, errors.New("nats server not ready")
	}
	env.log = logging.New(io.Discard, "mailer", o.mailer.LogLevel)
	nc, js, err := stream.Connect(ns.ClientURL(), "mailbench", env.log)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, nc.Close)
	env.js = js
	spec := stream.Spec{Name: "BOOKING", Subjects: []string{"booking.>"}, MaxAge: time.Hour, MaxBytes: 1 << 30}
	if _, err := stream.Ensure(ctx, js, spec); err != nil {
		return nil, err
	}

	dbURL, drop, err := scratchDatabase(ctx, o.dbURL)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, drop)
	env.pool, err = postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: "mailer", MaxConns: o.mailer.DBMaxConns})
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, env.pool.Close)
	if err := postgres.Migrate(ctx, env.pool, "mailer", env.log, migrations.Sets()...); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	env.reg = reg
	if env.cm, err = consume.NewMetrics(reg); err != nil {
		return nil, err
	}
	if env.dm, err = delivery.NewMetrics(reg); err != nil {
		return nil, err
	}
	return env, nil
}

// checkpoint has PostgreSQL write its dirty pages now, untimed, so that
// no run meets a checkpoint another did not.
func (env *environment) checkpoint(ctx context.Context) error {
	if _, err := env.pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// settle prepares a mailer run, untimed: the events of earlier runs leave
// the stream, and the mailer's tables, which keep growing run after run as
// a production inbox holds days of events, are analyzed as autovacuum
// would have. (Emptied each run instead, they would hide what the growing
// inbox showed: a duplicate lookup reading the whole inbox under a plan
// made before any statistics, fixed in libs/consume's lookupEvents.)
func (env *environment) settle(ctx context.Context) error {
	st, err := env.js.Stream(ctx, "BOOKING")
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	if err := st.Purge(ctx); err != nil {
		return fmt.Errorf("settle: purge the stream: %w", err)
	}
	if _, err := env.pool.Exec(ctx, "ANALYZE deliveries, consumed_events, recipient_acks"); err != nil {
		return fmt.Errorf("settle: analyze the mailer's tables: %w", err)
	}
	return nil
}

// mailer publishes n events, then runs the mailer's BOOKING consumer until
// the sink has them all, and returns emails per second from its start.
func (env *environment) mailer(ctx context.Context, sink *smtptest.Sink, h *delivery.Handler, n int, o options) (float64, error) {
	if err := env.settle(ctx); err != nil {
		return 0, err
	}
	if err := publish(ctx, env.js, n); err != nil {
		return 0, err
	}
	backoff, err := o.mailer.Backoff()
	if err != nil {
		return 0, err
	}
	cc := delivery.Consumers()[0]
	cc.Concurrency, cc.BatchSize, cc.MaxAttempts, cc.Backoff = o.concurrency, o.batch, o.mailer.MaxAttempts, backoff
	runner, err := consume.NewEffect(env.pool, env.js, env.cm, env.log, cc, h.Effect())
	if err != nil {
		return 0, err
	}
	before := sink.Count()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- runner.Run(runCtx) }()
	waitErr := sink.WaitCount(ctx, before+n)
	elapsed := time.Since(start)
	stop()
	if err := errors.Join(waitErr, <-done); err != nil {
		return 0, fmt.Errorf("mailer run: %w", err)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// publish fills the stream with n distinct booking.session.booked events.
func publish(ctx context.Context, js jetstream.JetStream, n int) error {
	for i := range n {
		ev, err := events.New("booking", events.TypeSessionBooked, events.SessionBooked{
			Email: fmt.Sprintf("user%d@example.com", i), Name: "Bench User",
			SessionID:   uuid.New(),
			SessionType: "individual", PreferredDate: "2031-05-17", Status: "pending", BookedAt: time.Now().UTC(),
			ManageExpires: time.Date(2031, time.May, 25, 0, 0, 0, 0, time.UTC),
		})
		if err != nil {
			return err
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		if _, err := js.PublishAsync(ev.Subject(), body, jetstream.WithMsgID(ev.ID.String())); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		// Wait for the acks every 1000 messages: more in flight than the
		// client's window (4000) stalls the publisher on a busy machine.
		if (i+1)%1000 == 0 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// scratchDatabase creates an empty database on base's server and returns
// its URL and a function that drops it.
func scratchDatabase(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("parse database url: %w", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "mailbench_" + hex.EncodeToString(b[:])
	u.Path = "/" + name
	if err := postgres.EnsureDatabase(ctx, u.String()); err != nil {
		return "", nil, err
	}
	drop := func() {
		ctx := context.WithoutCancel(ctx)
		admin := *u
		admin.Path = "/postgres"
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// window is the resend window over a set of mailer runs: for every email
// the time from the SMTP server's 250 to the commit of its record
// (consumer_effect_unrecorded_seconds), what a crash would send again.
type window struct {
	count      uint64
	sum        float64
	cumulative []uint64  // per bucket
	bounds     []float64 // upper bounds, seconds
}

// unrecorded reads the histogram as it stands.
func (env *environment) unrecorded() (window, error) {
	mfs, err := env.reg.Gather()
	if err != nil {
		return window{}, fmt.Errorf("read metrics: %w", err)
	}
	var w window
	for _, mf := range mfs {
		if mf.GetName() != "consumer_effect_unrecorded_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			w.count += h.GetSampleCount()
			w.sum += h.GetSampleSum()
			for i, b := range h.GetBucket() {
				if len(w.cumulative) <= i {
					w.cumulative = append(w.cumulative, 0)
					w.bounds = append(w.bounds, b.GetUpperBound())
				}
				w.cumulative[i] += b.GetCumulativeCount()
			}
		}
	}
	return w, nil
}

// since is w minus an earlier reading.
func (w window) since(before window) window {
	d := window{count: w.count - before.count, sum: w.sum - before.sum, bounds: w.bounds,
		cumulative: make([]uint64, len(w.cumulative))}
	for i := range w.cumulative {
		d.cumulative[i] = w.cumulative[i]
		if i < len(before.cumulative) {
			d.cumulative[i] -= before.cumulative[i]
		}
	}
	return d
}

// mean is the average window.
func (w window) mean() time.Duration {
	if w.count == 0 {
		return 0
	}
	return time.Duration(w.sum / float64(w.count) * float64(time.Second))
}

// quantile is the upper bound of the bucket that holds quantile q.
func (w window) quantile(q float64) time.Duration {
	for i, c := range w.cumulative {
		if float64(c) >= q*float64(w.count) {
			return time.Duration(w.bounds[i] * float64(time.Second))
		}
	}
	return time.Duration(-1) // beyond the last bucket
}

// String says the window in milliseconds.
func (w window) String() string {
	return fmt.Sprintf("mean %.2f ms, p50 <= %.1f ms, p99 <= %.1f ms, max <= %.1f ms over %d emails",
		float64(w.mean().Microseconds())/1000, ms(w.quantile(0.5)), ms(w.quantile(0.99)), ms(w.quantile(1)), w.count)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/store"
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
	if err := postgres.Migrate(ctx, env.pool, "mailer", env.log, consume.Migrations(), store.Migrations()); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	if env.cm, err = consume.NewMetrics(reg); err != nil {
		return nil, err
	}
	if env.dm, err = delivery.NewMetrics(reg); err != nil {
		return nil, err
	}
	return env, nil
}

// mailer publishes n events, then runs the mailer's BOOKING consumer until
// the sink has them all, and returns emails per second from its start.
func (env *environment) mailer(ctx context.Context, sink *smtptest.Sink, h *delivery.Handler, n int, o options) (float64, error) {
	if err := publish(ctx, env.js, n); err != nil {
		return 0, err
	}
	backoff, err := o.mailer.Backoff()
	if err != nil {
		return 0, err
	}
	cc := delivery.Consumers()[0]
	cc.Concurrency, cc.BatchSize, cc.MaxAttempts, cc.Backoff = o.concurrency, o.batch, o.mailer.MaxAttempts, backoff
	runner, err := consume.NewBatch(env.pool, env.js, env.cm, env.log, cc, h.HandleBatch)
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
		ev, err := events.New("booking", email.TypeSessionBooked, email.SessionBooked{
			Recipient:   email.Recipient{Email: fmt.Sprintf("user%d@example.com", i), Name: "Bench User"},
			SessionID:   uuid.New(),
			SessionType: "individual", PreferredDate: "2031-05-17", Status: "pending", BookedAt: time.Now().UTC(),
			ManageURL: "/manage/sessions/token",
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
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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

// Command booking serves sessions, events, volunteers and contact messages,
// carries out the admin service's bulk jobs on them and relays their
// events to JetStream.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/acube/platform/libs/authn"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/periodic"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/config"
	"github.com/acube/platform/services/booking/internal/consumer"
	"github.com/acube/platform/services/booking/internal/httpapi"
	"github.com/acube/platform/services/booking/internal/images"
	"github.com/acube/platform/services/booking/internal/link"
	"github.com/acube/platform/services/booking/internal/store"
)

const schema = "booking"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "booking:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "booking", cfg.LogLevel)
	log.Info("starting", libconfig.LogValue(&cfg)...)

	secret, err := link.LoadOrCreateSecret(cfg.Links.Secret, cfg.DataDir)
	if err != nil {
		return err
	}
	links, err := link.NewSigner(secret)
	if err != nil {
		return err
	}
	imgs, err := images.NewDir(cfg.Images.Dir)
	if err != nil {
		return err
	}
	proxies, err := cfg.Proxies()
	if err != nil {
		return err
	}
	verifier, err := authn.NewVerifier(authn.Config{Issuer: cfg.Admin.Issuer, Audience: cfg.Admin.Audience, JWKSURL: cfg.Admin.JWKSURL})
	if err != nil {
		return err
	}

	pool, err := postgres.Setup(ctx, postgres.Config{URL: cfg.DatabaseURL, Schema: schema, MaxConns: cfg.DBMaxConns}, log, outbox.Migrations(), consume.Migrations(), store.Migrations())
	if err != nil {
		return err
	}
	defer pool.Close()

	nc, js, err := stream.Connect(cfg.NATSURL, "booking", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	// AUDIT too, with the catalog's spec, so the relay never waits for the
	// admin service to publish booking's audit events.
	if err := stream.EnsureAll(ctx, js, stream.Booking(cfg.StreamReplicas), stream.Audit(cfg.StreamReplicas)); err != nil {
		return err
	}

	reg := web.NewRegistry()
	httpMetrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		return err
	}
	consumerMetrics, err := consume.NewMetrics(reg)
	if err != nil {
		return err
	}
	relay, err := outbox.NewRelay(pool, js, reg, log, outbox.RelayConfig{Schema: schema})
	if err != nil {
		return err
	}

	st := store.New(pool, store.Config{IdempotencyTTL: cfg.IdempotencyTTL})
	svc := booking.NewService(st, links, imgs, time.Now, booking.Config{
		PublicBaseURL: cfg.PublicBaseURL, LinkTTL: cfg.Links.TTL, CancelNotice: cfg.Links.CancelNotice,
	})
	jobs, err := consumer.NewJobs(pool, js, consumerMetrics, log, svc, consumer.JobsConfig{ChunkSize: cfg.Jobs.ChunkSize})
	if err != nil {
		return err
	}
	api := httpapi.New(svc, verifier, imgs, log, httpapi.Config{TrustedProxies: proxies, MaxImageBytes: cfg.Images.MaxBytes})
	probes := web.NewProbes(reg, map[string]web.Check{
		"postgres": pool.Ping,
		"nats":     func(context.Context) error { return stream.Ready(nc) },
	})
	r := web.NewRouter(log, httpMetrics, probes)
	api.Routes(r)
	srv := web.NewServer(cfg.Addr, r)
	srv.RegisterOnShutdown(probes.Shutdown)

	// Shutdown order (STYLE.md): not ready and drain HTTP, then drain the
	// job consumer, then stop the relay, drain NATS and close the pool
	// (deferred above).
	consumerCtx, stopConsumer := context.WithCancel(context.WithoutCancel(ctx))
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	consumerDone := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stopRelay()
		err := web.Serve(gctx, srv, nil, cfg.ShutdownGrace, log)
		stopConsumer()
		<-consumerDone
		return err
	})
	g.Go(func() error {
		defer close(consumerDone)
		return jobs.Run(consumerCtx)
	})
	g.Go(func() error { return relay.Run(relayCtx) })
	g.Go(func() error { janitor(consumerCtx, st, log); return nil })
	err = g.Wait()
	if dErr := nc.Drain(); dErr != nil {
		err = errors.Join(err, fmt.Errorf("drain nats: %w", dErr))
	}
	log.Info("stopped")
	return err
}

// janitor purges expired idempotency keys hourly.
func janitor(ctx context.Context, st *store.Store, log *slog.Logger) {
	periodic.Run(ctx, time.Hour, func(ctx context.Context) {
		if n, err := st.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			log.Warn("purge expired idempotency keys", "error", err.Error())
		} else if n > 0 {
			log.Info("purged expired idempotency keys", "count", n)
		}
	})
}

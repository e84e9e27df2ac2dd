// Command booking serves sessions, events, volunteers and contact messages,
// carries out the admin service's bulk jobs on them and relays their
// events to JetStream.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acube/platform/libs/authn"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/lifecycle"
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
	if err := run(ctx, os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "booking:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	cfg, err := config.Load(lookupEnv)
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
	verifier, err := authn.NewVerifier(authn.Config{Issuer: cfg.Admin.Issuer, Audience: cfg.Admin.Audience, JWKSURL: cfg.Admin.KeysURL()})
	if err != nil {
		return err
	}

	pool, err := postgres.Setup(ctx, postgres.Config{URL: cfg.DatabaseURL, Schema: schema, MaxConns: cfg.DBMaxConns}, log, outbox.Migrations(), consume.Migrations(), store.Migrations())
	if err != nil {
		return err
	}
	// The lifecycle closes the pool and drains NATS; these only cover a
	// failure before it runs (both are no-ops once closed).
	defer pool.Close()
	nc, js, err := stream.Connect(cfg.NATSURL, "booking", log)
	if err != nil {
		return err
	}
	defer nc.Close()

	reg := web.NewRegistry()
	httpMetrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		return err
	}
	consumerMetrics, err := consume.NewMetrics(reg)
	if err != nil {
		return err
	}
	// BOOKING is booking's own. AUDIT (booking publishes audit events) and
	// DEADLETTER (booking consumes) belong to the admin service: booking
	// creates them only if missing, so neither waits for the admin to start.
	streams, err := stream.NewDeclarer(nc, js, reg, log, stream.DeclarerConfig{Specs: []stream.Spec{
		stream.Booking(cfg.StreamReplicas), stream.Audit(cfg.StreamReplicas).IfMissing(), stream.DeadLetter(cfg.StreamReplicas).IfMissing(),
	}})
	if err != nil {
		return err
	}
	if err := reg.Register(stream.NewUsage(js, stream.Booking(cfg.StreamReplicas))); err != nil {
		return fmt.Errorf("register stream usage metrics: %w", err)
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
	probes := web.NewProbes(reg, map[string]web.Check{"postgres": pool.Ping})
	probes.Detail("nats", streams.Connected)
	probes.Detail("streams", streams.Streams)
	probes.Detail("consumer_"+consumer.JobsDurable, func(context.Context) error { return jobs.Ready() })
	r := web.NewRouter(log, httpMetrics, probes)
	api.Routes(r)

	lc, err := lifecycle.New(lifecycle.Config{
		Server: web.NewServer(cfg.Addr, r), Probes: probes,
		Declare:   streams.Run,
		Consumers: []lifecycle.Task{jobs.Run},
		Workers:   []lifecycle.Task{func(ctx context.Context) error { janitor(ctx, st, log); return nil }},
		Relay:     relay.Run,
		NATS:      stream.Drain(nc, log), Pool: pool, Grace: cfg.ShutdownGrace, Log: log,
	})
	if err != nil {
		return err
	}
	return lc.Run(ctx)
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

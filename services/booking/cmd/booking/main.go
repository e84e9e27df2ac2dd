// Command booking serves sessions, events, volunteers and contact messages,
// carries out the admin service's bulk jobs on them and relays their
// events to JetStream.
//
//	booking            serve (configuration from the environment)
//	booking migrate    apply the schema's migrations as its owner (MIGRATE_DATABASE_URL) and exit
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
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/periodic"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/config"
	"github.com/acube/platform/services/booking/internal/consumer"
	"github.com/acube/platform/services/booking/internal/httpapi"
	"github.com/acube/platform/services/booking/internal/images"
	"github.com/acube/platform/services/booking/internal/pages"
	"github.com/acube/platform/services/booking/internal/store"
)

const schema = "booking"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		err = migrate(ctx, os.LookupEnv, os.Stdout)
	} else {
		err = run(ctx, os.LookupEnv, os.Stdout)
	}
	if err != nil {
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

	secret, err := managelink.LoadOrCreateSecret(cfg.Links.Secret, cfg.DataDir)
	if err != nil {
		return err
	}
	links, err := managelink.NewSigner(secret)
	if err != nil {
		return err
	}
	clients, err := cfg.Clients()
	if err != nil {
		return err
	}

	pool, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	// The lifecycle closes the pool and drains NATS; these only cover a
	// failure before it runs (both are no-ops once closed).
	defer pool.Close()
	nc, js, err := stream.Connect(cfg.NATSURL, "booking", log, stream.NKeyFile(cfg.NATSNKeyFile), stream.CAFile(cfg.NATSCAFile))
	if err != nil {
		return err
	}
	defer nc.Close()
	// Event images live in the IMAGES bucket, which every replica reaches.
	imageBucket, err := objstore.New(js, objstore.Config{Bucket: stream.EventImages(cfg.StreamReplicas).Name})
	if err != nil {
		return err
	}
	imgs := images.New(imageBucket)

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
	}, Buckets: []stream.BucketSpec{stream.EventImages(cfg.StreamReplicas)}})
	if err != nil {
		return err
	}
	if err := reg.Register(stream.NewUsage(js, stream.Booking(cfg.StreamReplicas), stream.EventImages(cfg.StreamReplicas).Usage())); err != nil {
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
	// Admin tokens: keys from the admin's JWKS; revocations from its
	// admin.sessions.revoked events, without which admin routes answer 503.
	revocations, err := authn.NewRevocations(authn.RevocationsConfig{Name: "booking", Stream: stream.Admin(cfg.StreamReplicas).Name,
		MaxTokenAge: cfg.Revocations.AccessTTLMax, Registerer: reg, Log: log})
	if err != nil {
		return err
	}
	verifier, err := authn.NewVerifier(authn.Config{Issuer: cfg.Admin.Issuer, Audience: cfg.Admin.Audience, JWKSURL: cfg.Admin.KeysURL(),
		Revocations: revocations, Log: log})
	if err != nil {
		return err
	}
	exports, err := httpapi.NewExportMetrics(reg)
	if err != nil {
		return fmt.Errorf("register export metrics: %w", err)
	}
	api := httpapi.New(svc, verifier, imgs, log, httpapi.Config{Clients: clients, MaxImageBytes: cfg.Images.MaxBytes, Exports: exports})
	probes := web.NewProbes(reg, map[string]web.Check{
		"postgres": pool.Ping,
		// A new replica joins its Service once it knows the revoked tokens.
		"revocations": revocations.StartupGate(streams.Connected, 10*time.Second),
	})
	probes.Detail("nats", streams.Connected)
	probes.Detail("streams", streams.Streams)
	probes.Detail("consumer_"+consumer.JobsDurable, func(context.Context) error { return jobs.Ready() })
	probes.Detail("revocations", func(context.Context) error { return revocations.Ready() })
	r := web.NewRouter(log, httpMetrics, probes)
	api.Routes(r)
	if err := pages.Mount(r, svc, log, pages.Config{}); err != nil {
		return err
	}

	lc, err := lifecycle.New(lifecycle.Config{
		Server: web.NewServer(cfg.Addr, r), Probes: probes,
		Declare:   streams.Run,
		Consumers: []lifecycle.Task{jobs.Run},
		Workers:   []lifecycle.Task{func(ctx context.Context) error { janitor(ctx, st, log); return nil }, func(ctx context.Context) error { return revocations.Run(ctx, js) }},
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

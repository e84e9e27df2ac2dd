// Command exporter keeps a projection of the audit trail and writes audit
// exports from it: queued by administrators over HTTP, run by durable
// workers, announced by event and downloaded with an admin token until
// they expire.
//
// Usage:
//
//	exporter                 serve (the default)
//	exporter migrate         apply the schema's migrations as its owner (MIGRATE_DATABASE_URL) and exit
//	exporter rebuild-audit   replay the AUDIT stream into a fresh projection, as the schema's owner
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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/authn"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/lifecycle"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/config"
	"github.com/acube/platform/services/exporter/internal/export"
	"github.com/acube/platform/services/exporter/internal/httpapi"
	"github.com/acube/platform/services/exporter/internal/projection"
	"github.com/acube/platform/services/exporter/internal/store"
)

const schema = "exporter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "exporter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "migrate" {
		return migrate(ctx, lookupEnv, stdout)
	}
	cfg, err := config.Load(lookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "exporter", cfg.LogLevel)
	switch {
	case len(args) == 0 || args[0] == "serve":
		return serve(ctx, cfg, log)
	case args[0] == "rebuild-audit":
		owner, err := config.LoadMigrate(lookupEnv)
		if err != nil {
			return err
		}
		// The rebuild creates, swaps and drops the projection's table:
		// the schema owner's work, not the app role's.
		cfg.DatabaseURL = owner.DatabaseURL
		return rebuildAudit(ctx, cfg, log)
	default:
		return fmt.Errorf("unknown command %q (want serve, migrate or rebuild-audit)", args[0])
	}
}

// deps are the connections every command needs.
type deps struct {
	pool *pgxpool.Pool
	nc   *nats.Conn
	js   jetstream.JetStream
}

// connect opens the database (migrated by `exporter migrate`) and
// connects to NATS. It does not wait for NATS: serve declares its streams
// in the background, so the exporter starts while NATS is down.
func connect(ctx context.Context, cfg config.Config, log *slog.Logger) (deps, error) {
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return deps{}, err
	}
	nc, js, err := stream.Connect(cfg.NATSURL, "exporter", log, stream.NKeyFile(cfg.NATSNKeyFile), stream.CAFile(cfg.NATSCAFile))
	if err != nil {
		pool.Close()
		return deps{}, err
	}
	return deps{pool: pool, nc: nc, js: js}, nil
}

// streams are the ones the exporter declares: EXPORTER, its own; AUDIT,
// which it publishes to and reads, and DEADLETTER, as a consumer, both
// the admin's and created only if missing.
func streams(cfg config.Config) []stream.Spec {
	return []stream.Spec{
		stream.Exporter(cfg.StreamReplicas), stream.Audit(cfg.StreamReplicas).IfMissing(), stream.DeadLetter(cfg.StreamReplicas).IfMissing(),
	}
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	log.Info("starting", libconfig.LogValue(&cfg)...)
	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	// The lifecycle closes the pool and drains NATS; these only cover a
	// failure before it runs (both are no-ops once closed).
	defer d.pool.Close()
	defer d.nc.Close()

	reg := web.NewRegistry()
	httpMetrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		return err
	}
	consumeMetrics, err := consume.NewMetrics(reg)
	if err != nil {
		return err
	}
	exportMetrics, err := export.NewMetrics(reg)
	if err != nil {
		return err
	}
	// Export files live in the EXPORTS bucket, which every replica reaches.
	declarer, err := stream.NewDeclarer(d.nc, d.js, reg, log, stream.DeclarerConfig{Specs: streams(cfg),
		Buckets: []stream.BucketSpec{stream.ExportFiles(cfg.StreamReplicas, cfg.ExportTTL)}})
	if err != nil {
		return err
	}
	if err := reg.Register(stream.NewUsage(d.js, stream.Exporter(cfg.StreamReplicas), stream.ExportFiles(cfg.StreamReplicas, cfg.ExportTTL).Usage())); err != nil {
		return fmt.Errorf("register stream usage metrics: %w", err)
	}
	relay, err := outbox.NewRelay(d.pool, d.js, reg, log, outbox.RelayConfig{Schema: schema})
	if err != nil {
		return err
	}
	auditConsumer, err := projection.NewConsumer(d.pool, d.js, consumeMetrics, log)
	if err != nil {
		return err
	}
	files, err := objstore.New(d.js, objstore.Config{Bucket: stream.ExportFiles(cfg.StreamReplicas, cfg.ExportTTL).Name})
	if err != nil {
		return err
	}
	// Admin tokens: keys from the admin's JWKS; revocations from its
	// admin.sessions.revoked events, without which admin routes answer 503.
	revocations, err := authn.NewRevocations(authn.RevocationsConfig{Name: "exporter", Stream: stream.Admin(cfg.StreamReplicas).Name,
		MaxTokenAge: cfg.Revocations.AccessTTLMax, Registerer: reg, Log: log})
	if err != nil {
		return err
	}
	verifier, err := authn.NewVerifier(authn.Config{Issuer: cfg.Admin.Issuer, Audience: cfg.Admin.Audience, JWKSURL: cfg.Admin.KeysURL(),
		Revocations: revocations, Log: log})
	if err != nil {
		return err
	}

	st := store.New(d.pool)
	links := export.Links{Base: cfg.PublicBaseURL}
	// The workers put a running export back in the queue when they stop,
	// with the consumers, before the relay and the pool go.
	background := []lifecycle.Task{}
	workers := make([]*export.Worker, cfg.ExportWorkers)
	for i := range workers {
		workers[i] = export.NewWorker(st, st, files, exportMetrics, log, time.Now, export.WorkerConfig{
			Lease: cfg.ExportLease, Poll: cfg.ExportPoll, MaxAttempts: cfg.ExportAttempts, TTL: cfg.ExportTTL, Links: links,
		})
		background = append(background, workers[i].Run)
	}
	wake := func() {
		for _, w := range workers {
			w.Wake()
		}
	}
	purger := export.NewPurger(st, files, exportMetrics, log, time.Now, cfg.PurgeInterval)
	background = append(background, purger.Run)
	background = append(background, func(ctx context.Context) error { return revocations.Run(ctx, d.js) })
	clients, err := cfg.Clients()
	if err != nil {
		return err
	}
	api := httpapi.New(export.NewService(st, time.Now, wake), files, links, httpapi.AdminAuth(verifier, log), clients, log)

	// Readiness: the database serves the API; NATS (and with it the
	// export files' bucket), the streams and the audit projection's
	// consumer are details.
	probes := web.NewProbes(reg, map[string]web.Check{
		"postgres": d.pool.Ping,
		// A new replica joins its Service once it knows the revoked tokens.
		"revocations": revocations.StartupGate(declarer.Connected, 10*time.Second),
	})
	probes.Detail("nats", declarer.Connected)
	probes.Detail("streams", declarer.Streams)
	probes.Detail("consumer_"+projection.Durable, func(context.Context) error { return auditConsumer.Ready() })
	probes.Detail("revocations", func(context.Context) error { return revocations.Ready() })
	r := web.NewRouter(log, httpMetrics, probes)
	api.Routes(r)

	lc, err := lifecycle.New(lifecycle.Config{
		Server: web.NewServer(cfg.Addr, r), Probes: probes,
		Declare:   declarer.Run,
		Consumers: []lifecycle.Task{auditConsumer.Run},
		Workers:   background,
		Relay:     relay.Run,
		NATS:      stream.Drain(d.nc, log), Pool: d.pool, Grace: cfg.ShutdownGrace, Log: log,
	})
	if err != nil {
		return err
	}
	return lc.Run(ctx)
}

// rebuildAudit replays the AUDIT stream into a fresh projection while a
// serving exporter may keep running.
func rebuildAudit(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.pool.Close()
	defer d.nc.Close()
	// A one-off command needs NATS now: declare and fail if it is down.
	if err := stream.EnsureAll(ctx, d.js, streams(cfg)...); err != nil {
		return err
	}
	start := time.Now()
	res, err := projection.Rebuild(ctx, store.New(d.pool), d.js, log)
	if err != nil {
		return err
	}
	log.Info("audit projection rebuilt", "records", res.Records, "skipped", res.Skipped,
		"last_seq", res.LastSeq, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// Command exporter keeps a projection of the audit trail and writes audit
// exports from it: queued by administrators over HTTP, run by durable
// workers, announced by event and downloaded with an admin token until
// they expire.
//
// Usage:
//
//	exporter                 serve (the default)
//	exporter rebuild-audit   replay the AUDIT stream into a fresh projection
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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/acube/platform/libs/authn"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
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
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "exporter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "exporter", cfg.LogLevel)
	switch {
	case len(args) == 0 || args[0] == "serve":
		return serve(ctx, cfg, log)
	case args[0] == "rebuild-audit":
		return rebuildAudit(ctx, cfg, log)
	default:
		return fmt.Errorf("unknown command %q (want serve or rebuild-audit)", args[0])
	}
}

// deps are the connections every command needs.
type deps struct {
	pool *pgxpool.Pool
	nc   *nats.Conn
	js   jetstream.JetStream
}

// connect opens and migrates the database and connects to NATS, declaring
// the streams this service owns (EXPORTER) and publishes to (AUDIT).
func connect(ctx context.Context, cfg config.Config, log *slog.Logger) (deps, error) {
	pool, err := postgres.Setup(ctx, postgres.Config{URL: cfg.DatabaseURL, Schema: schema, MaxConns: cfg.DBMaxConns}, log, outbox.Migrations(), consume.Migrations(), store.Migrations())
	if err != nil {
		return deps{}, err
	}
	nc, js, err := stream.Connect(cfg.NATSURL, "exporter", log)
	if err != nil {
		pool.Close()
		return deps{}, err
	}
	if err := stream.EnsureAll(ctx, js, stream.Exporter(cfg.StreamReplicas), stream.Audit(cfg.StreamReplicas)); err != nil {
		nc.Close()
		pool.Close()
		return deps{}, err
	}
	return deps{pool: pool, nc: nc, js: js}, nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	log.Info("starting", libconfig.LogValue(&cfg)...)
	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
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
	relay, err := outbox.NewRelay(d.pool, d.js, reg, log, outbox.RelayConfig{Schema: schema})
	if err != nil {
		return err
	}
	auditConsumer, err := projection.NewConsumer(d.pool, d.js, consumeMetrics, log)
	if err != nil {
		return err
	}
	files, err := export.OpenFiles(cfg.ExportDir)
	if err != nil {
		return err
	}
	defer files.Close()
	verifier, err := authn.NewVerifier(authn.Config{Issuer: cfg.TokenIssuer, Audience: cfg.TokenAudience, JWKSURL: cfg.AdminJWKSURL})
	if err != nil {
		return err
	}

	st := store.New(d.pool)
	links := export.Links{Base: cfg.PublicBaseURL}
	workers := make([]*export.Worker, cfg.ExportWorkers)
	for i := range workers {
		workers[i] = export.NewWorker(st, st, files, exportMetrics, log, time.Now, export.WorkerConfig{
			Lease: cfg.ExportLease, Poll: cfg.ExportPoll, MaxAttempts: cfg.ExportAttempts, TTL: cfg.ExportTTL, Links: links,
		})
	}
	wake := func() {
		for _, w := range workers {
			w.Wake()
		}
	}
	purger := export.NewPurger(st, files, exportMetrics, log, time.Now, cfg.PurgeInterval, max(time.Hour, 2*cfg.ExportLease))
	api := httpapi.New(export.NewService(st, files, time.Now, wake), links, httpapi.AdminAuth(verifier, log), log)

	probes := web.NewProbes(reg, map[string]web.Check{
		"postgres":       d.pool.Ping,
		"nats":           func(context.Context) error { return stream.Ready(d.nc) },
		"audit_consumer": func(context.Context) error { return auditConsumer.Ready() },
		"export_dir":     func(context.Context) error { _, err := os.Stat(cfg.ExportDir); return err },
	})
	r := web.NewRouter(log, httpMetrics, probes)
	api.Routes(r)
	srv := web.NewServer(cfg.Addr, r)
	srv.RegisterOnShutdown(probes.Shutdown)

	// Shutdown order (STYLE.md): not ready and drain HTTP; then the
	// consumer drains and the workers put running exports back in the
	// queue; then the relay stops, NATS drains and the pool closes.
	backgroundCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRelay()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stopBackground()
		return web.Serve(gctx, srv, nil, cfg.ShutdownGrace, log)
	})
	g.Go(func() error {
		defer stopRelay()
		bg, bgctx := errgroup.WithContext(backgroundCtx)
		bg.Go(func() error { return auditConsumer.Run(bgctx) })
		for _, w := range workers {
			bg.Go(func() error { return w.Run(bgctx) })
		}
		bg.Go(func() error { return purger.Run(bgctx) })
		return bg.Wait()
	})
	g.Go(func() error { return relay.Run(relayCtx) })
	err = g.Wait()
	if dErr := d.nc.Drain(); dErr != nil && !errors.Is(dErr, nats.ErrConnectionClosed) {
		err = errors.Join(err, fmt.Errorf("drain nats: %w", dErr))
	}
	log.Info("stopped")
	return err
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
	start := time.Now()
	res, err := projection.Rebuild(ctx, store.New(d.pool), d.js, log)
	if err != nil {
		return err
	}
	log.Info("audit projection rebuilt", "records", res.Records, "skipped", res.Skipped,
		"last_seq", res.LastSeq, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/exporter/internal/store"
)

// startNATS runs an in-process JetStream server with its store under dir
// and declares the EXPORTS bucket on it, as the exporter does.
func startNATS(ctx context.Context, dir string) (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: filepath.Join(dir, "nats"), NoLog: true, NoSigs: true})
	if err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start nats: not ready in 10s")
	}
	// Quiet: closing this connection would log a disconnection.
	nc, js, err := stream.Connect(srv.ClientURL(), "exportbench", slog.New(slog.DiscardHandler))
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	defer nc.Close()
	if err := stream.EnsureBucket(ctx, js, stream.ExportFiles(1, stream.DefaultExportTTL)); err != nil {
		srv.Shutdown()
		return nil, err
	}
	return srv, nil
}

// prepare returns a pool on a benchmark database holding o.rows generated
// rows: the one of an earlier run with -reuse, else a new one.
func prepare(ctx context.Context, o options, stdout io.Writer, log *slog.Logger) (*pgxpool.Pool, error) {
	if o.reuse {
		pool, err := postgres.Open(ctx, postgres.Config{URL: o.db, Schema: schema, MaxConns: 2})
		if err == nil {
			var n int
			if err = pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err == nil && n == o.rows {
				fmt.Fprintf(stdout, "reusing %d rows\n", n)
				return pool, nil
			}
			pool.Close()
		}
	}
	if err := recreate(ctx, o.db); err != nil {
		return nil, err
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: o.db, Schema: schema, MaxConns: 2})
	if err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, pool, schema, log, store.Migrations()); err != nil {
		pool.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "generating %d audit rows by COPY...\n", o.rows)
	start := time.Now()
	if err := generate(ctx, pool, o.rows); err != nil {
		pool.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "generated in %.1fs\n", time.Since(start).Seconds())
	return pool, nil
}

// recreate drops and creates the benchmark database.
func recreate(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parse -db: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to recreate %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return postgres.EnsureDatabase(ctx, rawURL)
}

// generate fills audit_log with n varied rows, one second apart; some cells
// start with formula characters, so neutralising is part of the work.
func generate(ctx context.Context, pool *pgxpool.Pool, n int) error {
	actions := []string{"create", "update", "delete", "status_update", "login"}
	entities := []string{"session", "event", "volunteer", "contact", "admin"}
	admins := make([]string, 20)
	for i := range admins {
		admins[i] = uuid.NewString()
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		a := i % len(admins)
		email := fmt.Sprintf("admin%d@example.org", a)
		if i%1000 == 0 {
			email = "=HYPERLINK(\"http://x/\")"
		}
		changes := fmt.Sprintf(`{"status": ["pending", "confirmed"], "note": "row %d of the generated audit trail", "count": %d}`, i, i%97)
		row := []any{uuid.Must(uuid.NewV7()), firstRow().Add(time.Duration(i) * time.Second), admins[a], email,
			actions[i%len(actions)], entities[(i/5)%len(entities)], uuid.NewString(),
			fmt.Sprintf("10.%d.%d.%d", i%256, (i/256)%256, (i/65536)%256), changes}
		i++
		return row, nil
	})
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"audit_log"},
		[]string{"event_id", "occurred_at", "actor_id", "actor_email", "action", "entity", "entity_id", "client_ip", "changes"}, src)
	if err != nil {
		return fmt.Errorf("copy %d rows: %w", n, err)
	}
	return nil
}

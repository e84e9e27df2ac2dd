// Package dbtest gives the exporter's tests a freshly migrated database of
// their own and a few helpers to look into it.
package dbtest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/exporter/internal/migrations"
)

// Schema is the exporter's schema, as in production.
const Schema = "exporter"

// NewPool returns a pool on a new database migrated with the exporter's
// sets (a clone of pgtest's template); it skips under -short.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := pgtest.NewMigrated(t, Schema, migrations.Sets()...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: Schema, MaxConns: 8})
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Discard is a logger that writes nowhere.
func Discard() *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// OutboxSubjects lists the subjects of the events in the outbox, oldest first.
func OutboxSubjects(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT subject FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("read outbox: %v", err)
		}
		out = append(out, s)
	}
	return out
}

// OutboxPayload returns the payload of the last outbox event of subject.
func OutboxPayload(t testing.TB, pool *pgxpool.Pool, subject string) []byte {
	t.Helper()
	var p []byte
	if err := pool.QueryRow(context.Background(),
		`SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq DESC LIMIT 1`, subject).Scan(&p); err != nil {
		t.Fatalf("read outbox event %s: %v", subject, err)
	}
	return p
}

// Package store keeps the exporter's data in PostgreSQL, in the exporter
// schema: the audit projection, which it also streams for exports, and the
// exports themselves, each change with its event written to the outbox in
// the same transaction.
package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/exporter/internal/export"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the exporter's own schema migrations.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrationFiles, "migrations") // the path is fixed at compile time
	return postgres.Migrations{Name: "exporter", FS: sub}
}

// Store is the PostgreSQL implementation of export.Store and
// export.RecordSource.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store over pool, whose search path is the exporter schema.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// emit adds an event to the outbox within tx.
func emit(ctx context.Context, tx pgx.Tx, typ string, data any) error {
	ev, err := events.New(export.Source, typ, data)
	if err != nil {
		return err
	}
	if err := outbox.Add(ctx, tx, ev); err != nil {
		return fmt.Errorf("emit %s: %w", typ, err)
	}
	return nil
}

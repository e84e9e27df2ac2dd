// Package store keeps booking's data in PostgreSQL, in the booking schema,
// and writes each change's event to the outbox in the same transaction.
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
	"github.com/acube/platform/services/booking/internal/booking"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns booking's own schema migrations.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrationFiles, "migrations") // the path is fixed at compile time
	return postgres.Migrations{Name: "booking", FS: sub}
}

// Store is the PostgreSQL implementation of booking.Store.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store over pool, whose search path is the booking schema.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// inTx runs fn in a transaction and commits when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// emit adds an event to the outbox within tx.
func emit(ctx context.Context, tx pgx.Tx, typ string, data any) error {
	ev, err := events.New(booking.Source, typ, data)
	if err != nil {
		return err
	}
	if err := outbox.Add(ctx, tx, ev); err != nil {
		return fmt.Errorf("emit %s: %w", typ, err)
	}
	return nil
}

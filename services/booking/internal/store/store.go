// Package store keeps booking's data in PostgreSQL, in the booking schema,
// and writes each change's events to the outbox in the same transaction.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	cfg  Config
}

// Config tunes a Store. Zero values take the defaults in brackets.
type Config struct {
	// IdempotencyTTL is how long an Idempotency-Key is remembered [24h]:
	// a repeat within it returns the first booking, a key older than it
	// counts as new, and PurgeIdempotencyKeys deletes it.
	IdempotencyTTL time.Duration
}

var _ booking.Store = (*Store)(nil)

// New returns a Store over pool, whose search path is the booking schema.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	return &Store{pool: pool, cfg: cfg}
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction and commits when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// emit adds messages to the outbox within tx, in one statement: an
// event's new time fans out to every registration, thousands of rows
// written while the event's lock is held.
func emit(ctx context.Context, tx querier, msgs []booking.Message) error {
	evs := make([]events.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := events.New(booking.Source, m.Type, m.Data)
		if err != nil {
			return fmt.Errorf("emit %s: %w", m.Type, err)
		}
		if rec, ok := m.Data.(events.AuditRecord); ok {
			ev.OccurredAt = rec.OccurredAt // the envelope tells the same time as the record
		}
		evs = append(evs, ev)
	}
	return outbox.AddAll(ctx, tx, evs)
}

// Emit writes messages to the outbox in a transaction of their own.
func (s *Store) Emit(ctx context.Context, msgs []booking.Message) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return emit(ctx, tx, msgs) })
}

// notFound turns pgx.ErrNoRows into booking.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.ErrNotFound
	}
	return err
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/acube/platform/services/exporter/internal/audit"
)

// RebuildTable is where a rebuild replays the stream before it is swapped
// in as the projection.
const RebuildTable = "audit_log_rebuild"

// The rebuild table starts without secondary indexes, which are cheaper to
// build once at the end; the indexes and their final names must match the
// migrations (TestIntegrationRebuildMatchesMigrations checks it).
const (
	createRebuild = `
DROP TABLE IF EXISTS audit_log_rebuild;
CREATE TABLE audit_log_rebuild (LIKE audit_log INCLUDING DEFAULTS);
ALTER TABLE audit_log_rebuild ADD CONSTRAINT audit_log_rebuild_pkey PRIMARY KEY (event_id);`
	indexRebuild = `
CREATE INDEX audit_log_rebuild_time ON audit_log_rebuild (occurred_at, event_id);
CREATE INDEX audit_log_rebuild_actor_id ON audit_log_rebuild (actor_id, occurred_at);
CREATE INDEX audit_log_rebuild_actor_email ON audit_log_rebuild (lower(actor_email), occurred_at);
ANALYZE audit_log_rebuild;`
	// SHARE mode lets exports keep reading but holds off the live
	// consumer's inserts while the last events are caught up.
	lockProjection = `LOCK TABLE audit_log IN SHARE MODE`
	swapRebuild    = `
DROP TABLE audit_log;
ALTER TABLE audit_log_rebuild RENAME TO audit_log;
ALTER TABLE audit_log RENAME CONSTRAINT audit_log_rebuild_pkey TO audit_log_pkey;
ALTER INDEX audit_log_rebuild_time RENAME TO audit_log_time;
ALTER INDEX audit_log_rebuild_actor_id RENAME TO audit_log_actor_id;
ALTER INDEX audit_log_rebuild_actor_email RENAME TO audit_log_actor_email;`
	insertRebuild = `
INSERT INTO audit_log_rebuild (event_id, occurred_at, actor_id, actor_email, action, entity, entity_id, client_ip, changes)
SELECT e, o, ai, ae, a, en, ei, ip, c::jsonb
FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
	AS t(e, o, ai, ae, a, en, ei, ip, c)
ON CONFLICT (event_id) DO NOTHING`
)

// execer runs a statement: the pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// InsertFunc adds a batch of records to the rebuild table.
type InsertFunc func(ctx context.Context, recs []audit.Record) error

// StartRebuild creates an empty rebuild table, dropping a leftover one.
func (s *Store) StartRebuild(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, createRebuild); err != nil {
		return fmt.Errorf("create rebuild table: %w", err)
	}
	return nil
}

// InsertRebuild adds records to the rebuild table in one statement;
// duplicates are skipped.
func (s *Store) InsertRebuild(ctx context.Context, recs []audit.Record) error {
	return insertRebuildVia(ctx, s.pool, recs)
}

func insertRebuildVia(ctx context.Context, db execer, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	var (
		ids                                 = make([]uuid.UUID, len(recs))
		times                               = make([]time.Time, len(recs))
		actorIDs, emails, actions, entities = make([]string, len(recs)), make([]string, len(recs)), make([]string, len(recs)), make([]string, len(recs))
		entityIDs, ips, changes             = make([]string, len(recs)), make([]string, len(recs)), make([]string, len(recs))
	)
	for i, r := range recs {
		ids[i], times[i], actorIDs[i], emails[i], actions[i] = r.EventID, r.OccurredAt, r.ActorID, r.ActorEmail, r.Action
		entities[i], entityIDs[i], ips[i], changes[i] = r.Entity, r.EntityID, r.ClientIP, string(r.Changes)
	}
	if _, err := db.Exec(ctx, insertRebuild, ids, times, actorIDs, emails, actions, entities, entityIDs, ips, changes); err != nil {
		return fmt.Errorf("insert %d records into rebuild table: %w", len(recs), err)
	}
	return nil
}

// SwapRebuild indexes the rebuild table and makes it the projection. Under
// a lock that stops new records reaching the old table, catchUp adds the
// events that arrived meanwhile through insert, in the swap's transaction.
func (s *Store) SwapRebuild(ctx context.Context, catchUp func(ctx context.Context, insert InsertFunc) error) error {
	if _, err := s.pool.Exec(ctx, indexRebuild); err != nil {
		return fmt.Errorf("index rebuild table: %w", err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockProjection); err != nil {
			return fmt.Errorf("lock projection: %w", err)
		}
		insert := func(ctx context.Context, recs []audit.Record) error { return insertRebuildVia(ctx, tx, recs) }
		if err := catchUp(ctx, insert); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, swapRebuild); err != nil {
			return fmt.Errorf("swap rebuilt projection in: %w", err)
		}
		return nil
	})
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/exporter/internal/export"
)

const exportColumns = `id, admin_id, admin_email, admin_name, filters, status, file_name, rows_total,
rows_written, file_size, attempts, error, created_at, started_at, finished_at, expires_at`

const (
	insertExport = `
INSERT INTO exports (id, admin_id, admin_email, admin_name, filters, status, file_name, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	selectExport = `SELECT ` + exportColumns + ` FROM exports WHERE id = $1`
	// A page of the list, newest first, after the key ($1, $2) when it is
	// given; expired exports are gone (404), so they are not listed.
	listExports = `
SELECT ` + exportColumns + ` FROM exports
WHERE (expires_at IS NULL OR expires_at > $3)
	AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $4`
	expiredExport = `
SELECT ` + exportColumns + ` FROM exports
WHERE status = 'completed' AND purged_at IS NULL AND expires_at <= $1
ORDER BY expires_at LIMIT $2`
	// The oldest waiting export, or one whose worker stopped renewing its
	// lease; SKIP LOCKED lets workers claim side by side.
	claimExport = `
UPDATE exports SET status = 'running', claim_id = $1, lease_until = now() + make_interval(secs => $2),
	attempts = attempts + 1, started_at = COALESCE(started_at, now()), rows_total = 0, rows_written = 0
WHERE id = (
	SELECT id FROM exports
	WHERE (status = 'queued' AND not_before <= now()) OR (status = 'running' AND lease_until < now())
	ORDER BY created_at
	LIMIT 1
	FOR UPDATE SKIP LOCKED)
RETURNING ` + exportColumns
	heartbeatExport = `
UPDATE exports SET rows_total = $3, rows_written = $4, lease_until = now() + make_interval(secs => $5)
WHERE id = $1 AND claim_id = $2 AND status = 'running'`
	completeExport = `
UPDATE exports SET status = 'completed', rows_total = $3, rows_written = $3, file_size = $4,
	finished_at = $5, expires_at = $6, file_name = $7, claim_id = NULL, lease_until = NULL
WHERE id = $1 AND claim_id = $2 AND status = 'running'`
	failExport = `
UPDATE exports SET status = 'failed', error = $3, finished_at = $4, claim_id = NULL, lease_until = NULL
WHERE id = $1 AND claim_id = $2 AND status = 'running'`
	releaseExport = `
UPDATE exports SET status = 'queued', claim_id = NULL, lease_until = NULL, not_before = $3,
	attempts = attempts - CASE WHEN $4 THEN 0 ELSE 1 END
WHERE id = $1 AND claim_id = $2 AND status = 'running'`
	markPurged = `UPDATE exports SET purged_at = $2 WHERE id = $1`
)

// Create stores a queued export and the audit event of its request.
func (s *Store) Create(ctx context.Context, e export.Export, requested events.AuditRecord) error {
	filters, err := json.Marshal(e.Filter)
	if err != nil {
		return fmt.Errorf("encode filters of export %s: %w", e.ID, err)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertExport, e.ID, e.Admin.ID, e.Admin.Email, e.Admin.Name, filters,
			string(e.Status), e.File, e.CreatedAt); err != nil {
			return fmt.Errorf("insert export %s: %w", e.ID, err)
		}
		return emit(ctx, tx, export.TypeAuditRequested, requested)
	})
}

// Get returns an export or export.ErrNotFound.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (export.Export, error) {
	rows, _ := s.pool.Query(ctx, selectExport, id)
	e, err := pgx.CollectExactlyOneRow(rows, scanExport)
	if errors.Is(err, pgx.ErrNoRows) {
		return export.Export{}, export.ErrNotFound
	}
	if err != nil {
		return export.Export{}, fmt.Errorf("read export %s: %w", id, err)
	}
	return e, nil
}

// List returns a page of exports; see export.Store.
func (s *Store) List(ctx context.Context, after *export.Key, now time.Time, limit int) ([]export.Export, error) {
	var at *time.Time
	var id *uuid.UUID
	if after != nil {
		at, id = &after.CreatedAt, &after.ID
	}
	rows, _ := s.pool.Query(ctx, listExports, at, id, now, limit)
	out, err := pgx.CollectRows(rows, scanExport)
	if err != nil {
		return nil, fmt.Errorf("list exports: %w", err)
	}
	return out, nil
}

// Claim takes the next export to run; see export.Store.
func (s *Store) Claim(ctx context.Context, claim uuid.UUID, lease time.Duration) (export.Export, bool, error) {
	rows, _ := s.pool.Query(ctx, claimExport, claim, lease.Seconds())
	e, err := pgx.CollectExactlyOneRow(rows, scanExport)
	if errors.Is(err, pgx.ErrNoRows) {
		return export.Export{}, false, nil
	}
	if err != nil {
		return export.Export{}, false, fmt.Errorf("claim export: %w", err)
	}
	return e, true, nil
}

// Heartbeat records progress and extends the lease.
func (s *Store) Heartbeat(ctx context.Context, id, claim uuid.UUID, total, written int64, lease time.Duration) error {
	tag, err := s.pool.Exec(ctx, heartbeatExport, id, claim, total, written, lease.Seconds())
	if err != nil {
		return fmt.Errorf("heartbeat export %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("heartbeat export %s: %w", id, export.ErrLeaseLost)
	}
	return nil
}

// Complete marks the export completed with its file and writes its event.
func (s *Store) Complete(ctx context.Context, id, claim uuid.UUID, done export.Done, ev events.ExportCompleted) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, completeExport, id, claim, done.Rows, done.Size, done.FinishedAt, done.ExpiresAt, done.File)
		if err != nil {
			return fmt.Errorf("mark export %s completed: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("mark export %s completed: %w", id, export.ErrLeaseLost)
		}
		return emit(ctx, tx, export.TypeCompleted, ev)
	})
}

// Fail marks the export failed and writes its event.
func (s *Store) Fail(ctx context.Context, id, claim uuid.UUID, reason string, at time.Time, ev export.FailedData) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, failExport, id, claim, reason, at)
		if err != nil {
			return fmt.Errorf("mark export %s failed: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("mark export %s failed: %w", id, export.ErrLeaseLost)
		}
		return emit(ctx, tx, export.TypeFailed, ev)
	})
}

// Release puts a claimed export back in the queue.
func (s *Store) Release(ctx context.Context, id, claim uuid.UUID, notBefore time.Time, keepAttempt bool) error {
	tag, err := s.pool.Exec(ctx, releaseExport, id, claim, notBefore, keepAttempt)
	if err != nil {
		return fmt.Errorf("release export %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("release export %s: %w", id, export.ErrLeaseLost)
	}
	return nil
}

// Expired returns completed exports due for purging.
func (s *Store) Expired(ctx context.Context, now time.Time, limit int) ([]export.Export, error) {
	rows, _ := s.pool.Query(ctx, expiredExport, now, limit)
	out, err := pgx.CollectRows(rows, scanExport)
	if err != nil {
		return nil, fmt.Errorf("list expired exports: %w", err)
	}
	return out, nil
}

// MarkPurged records that an export's file is gone.
func (s *Store) MarkPurged(ctx context.Context, id uuid.UUID, at time.Time) error {
	if _, err := s.pool.Exec(ctx, markPurged, id, at); err != nil {
		return fmt.Errorf("mark export %s purged: %w", id, err)
	}
	return nil
}

func scanExport(row pgx.CollectableRow) (export.Export, error) {
	var (
		e                            export.Export
		filters                      []byte
		status                       string
		started, finished, expiresAt *time.Time
	)
	err := row.Scan(&e.ID, &e.Admin.ID, &e.Admin.Email, &e.Admin.Name, &filters, &status, &e.File, &e.RowsTotal,
		&e.RowsWritten, &e.Size, &e.Attempts, &e.Error, &e.CreatedAt, &started, &finished, &expiresAt)
	if err != nil {
		return export.Export{}, err
	}
	if err := json.Unmarshal(filters, &e.Filter); err != nil {
		return export.Export{}, fmt.Errorf("decode filters of export %s: %w", e.ID, err)
	}
	e.Status = export.Status(status)
	e.StartedAt, e.FinishedAt, e.ExpiresAt = deref(started), deref(finished), deref(expiresAt)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

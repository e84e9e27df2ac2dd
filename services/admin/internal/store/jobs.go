package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/job"
)

// Jobs is the PostgreSQL implementation of job.Store.
type Jobs struct {
	pool *pgxpool.Pool
}

// NewJobs returns the job store over pool.
func NewJobs(pool *pgxpool.Pool) *Jobs { return &Jobs{pool: pool} }

// InTx runs fn in one transaction.
func (s *Jobs) InTx(ctx context.Context, fn func(job.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(JobTx(tx)) })
}

// JobTx adapts a transaction, e.g. a consumer's, to job.Tx.
func JobTx(tx pgx.Tx) job.Tx { return jobTx{tx} }

const (
	jobCols = `id, entity, action, status, state, total, processed, succeeded, failed, not_found, chunks,
chunks_done, reported, error, requested_by_id, requested_by_email, requested_by_name, client_ip, created_at,
updated_at, completed_at`
	insertJob = `INSERT INTO jobs (` + jobCols + `, ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
$13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`
	getJob    = `SELECT ` + jobCols + ` FROM jobs WHERE id = $1`
	lockJob   = `SELECT ` + jobCols + ` FROM jobs WHERE id = $1 FOR UPDATE`
	updateJob = `
UPDATE jobs SET state = $2, processed = $3, succeeded = $4, failed = $5, not_found = $6, chunks = $7,
	chunks_done = $8, reported = $9, error = $10, updated_at = $11, completed_at = $12
WHERE id = $1`
	insertChunk = `
INSERT INTO job_chunks (job_id, chunk, processed, succeeded, failed, not_found_ids, failures, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
ON CONFLICT (job_id, chunk) DO NOTHING`
	jobFailures = `
SELECT f.id, f.error FROM (
	SELECT chunk, nf AS id, 'not_found' AS error, ord FROM job_chunks, unnest(not_found_ids) WITH ORDINALITY AS u(nf, ord)
	WHERE job_id = $1
	UNION ALL
	SELECT chunk, x->>'id', x->>'error', 1000000 + ord FROM job_chunks, jsonb_array_elements(failures) WITH ORDINALITY AS v(x, ord)
	WHERE job_id = $1
) f ORDER BY f.chunk, f.ord LIMIT $2`
)

func scanJob(row pgx.Row) (job.Job, error) {
	var j job.Job
	err := row.Scan(&j.ID, &j.Entity, &j.Action, &j.Status, &j.State, &j.Total, &j.Processed, &j.Succeeded,
		&j.Failed, &j.NotFound, &j.Chunks, &j.ChunksDone, &j.Reported, &j.Error, &j.RequestedBy.ID,
		&j.RequestedBy.Email, &j.RequestedBy.Name, &j.ClientIP, &j.CreatedAt, &j.UpdatedAt, &j.CompletedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return job.Job{}, job.ErrNotFound
	}
	if err != nil {
		return job.Job{}, fmt.Errorf("read job: %w", err)
	}
	return j, nil
}

// Get returns a job and up to maxFailures of its failed ids.
func (s *Jobs) Get(ctx context.Context, id uuid.UUID, maxFailures int) (job.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, getJob, id))
	if err != nil {
		return job.Job{}, err
	}
	if j.Failed == 0 || maxFailures <= 0 {
		return j, nil
	}
	rows, err := s.pool.Query(ctx, jobFailures, id, maxFailures)
	if err != nil {
		return job.Job{}, fmt.Errorf("read failures of job %s: %w", id, err)
	}
	j.Failures, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.JobFailure, error) {
		var f events.JobFailure
		return f, r.Scan(&f.ID, &f.Error)
	})
	if err != nil {
		return job.Job{}, fmt.Errorf("read failures of job %s: %w", id, err)
	}
	return j, nil
}

type jobTx struct{ tx pgx.Tx }

func (t jobTx) Insert(ctx context.Context, j job.Job) error {
	_, err := t.tx.Exec(ctx, insertJob, j.ID, j.Entity, j.Action, j.Status, j.State, j.Total, j.Processed,
		j.Succeeded, j.Failed, j.NotFound, j.Chunks, j.ChunksDone, j.Reported, j.Error, j.RequestedBy.ID,
		j.RequestedBy.Email, j.RequestedBy.Name, j.ClientIP, j.CreatedAt, j.UpdatedAt, j.CompletedAt, j.IDs)
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	return nil
}

func (t jobTx) Lock(ctx context.Context, id uuid.UUID) (job.Job, error) {
	return scanJob(t.tx.QueryRow(ctx, lockJob, id))
}

func (t jobTx) AddChunk(ctx context.Context, p events.JobProgress, at time.Time) (bool, error) {
	failures := p.Failures
	if failures == nil {
		failures = []events.JobFailure{}
	}
	raw, err := json.Marshal(failures)
	if err != nil {
		return false, fmt.Errorf("encode chunk failures: %w", err)
	}
	notFound := p.NotFoundIDs
	if notFound == nil {
		notFound = []string{}
	}
	tag, err := t.tx.Exec(ctx, insertChunk, p.JobID, p.Chunk, p.Processed, p.Succeeded, p.Failed, notFound, string(raw), at)
	if err != nil {
		return false, fmt.Errorf("record chunk %d of job %s: %w", p.Chunk, p.JobID, err)
	}
	return tag.RowsAffected() == 1, nil
}

func (t jobTx) Update(ctx context.Context, j job.Job) error {
	_, err := t.tx.Exec(ctx, updateJob, j.ID, j.State, j.Processed, j.Succeeded, j.Failed, j.NotFound, j.Chunks,
		j.ChunksDone, j.Reported, j.Error, j.UpdatedAt, j.CompletedAt)
	if err != nil {
		return fmt.Errorf("update job %s: %w", j.ID, err)
	}
	return nil
}

func (t jobTx) Emit(ctx context.Context, ev events.Event) error { return emit(ctx, t.tx, ev) }

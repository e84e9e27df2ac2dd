package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const (
	ensureJob  = `INSERT INTO bulk_jobs (job_id) VALUES ($1) ON CONFLICT (job_id) DO NOTHING`
	lockJob    = `SELECT next_chunk, processed, succeeded, failed, finished_at IS NOT NULL FROM bulk_jobs WHERE job_id = $1 FOR UPDATE`
	advanceJob = `
UPDATE bulk_jobs SET next_chunk = $2 + 1, processed = processed + $3, succeeded = succeeded + $4, failed = failed + $5,
	finished_at = CASE WHEN $6 THEN now() END
WHERE job_id = $1`
	finishJob = `UPDATE bulk_jobs SET finished_at = now() WHERE job_id = $1`
)

// deleteSQL removes rows of a bulk entity by id; registrations and history
// go with their parents by ON DELETE CASCADE.
func deleteSQL(entity string) (string, bool) {
	table := map[string]string{booking.BulkSessions: "sessions", booking.BulkVolunteers: "volunteers",
		booking.BulkContact: "contacts", booking.BulkEvents: "events"}[entity]
	return `DELETE FROM ` + table + ` WHERE id = ANY($1) RETURNING id`, table != ""
}

type jobState struct {
	next     int
	totals   booking.JobTotals
	finished bool
}

func lockJobRow(ctx context.Context, tx pgx.Tx, id uuid.UUID) (jobState, error) {
	if _, err := tx.Exec(ctx, ensureJob, id); err != nil {
		return jobState{}, fmt.Errorf("create cursor of job %s: %w", id, err)
	}
	var st jobState
	err := tx.QueryRow(ctx, lockJob, id).Scan(&st.next, &st.totals.Processed, &st.totals.Succeeded, &st.totals.Failed, &st.finished)
	if err != nil {
		return jobState{}, fmt.Errorf("lock cursor of job %s: %w", id, err)
	}
	return st, nil
}

// JobChunk runs chunk index of a job once, under the job's row lock.
func (s *Store) JobChunk(ctx context.Context, jobID uuid.UUID, index int, last bool, fn func(booking.JobTx, booking.JobTotals) (booking.JobTotals, error)) (bool, error) {
	ran := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		st, err := lockJobRow(ctx, tx, jobID)
		if err != nil {
			return err
		}
		if st.next > index || st.finished {
			return nil
		}
		if st.next < index {
			return fmt.Errorf("job %s: chunk %d before chunk %d", jobID, index, st.next)
		}
		t, err := fn(jobTx{tx: tx}, st.totals)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, advanceJob, jobID, index, t.Processed, t.Succeeded, t.Failed, last); err != nil {
			return fmt.Errorf("advance cursor of job %s: %w", jobID, err)
		}
		ran = true
		return nil
	})
	return ran && err == nil, err
}

// FinishJob writes a job's completion once.
func (s *Store) FinishJob(ctx context.Context, jobID uuid.UUID, fn func(booking.JobTotals) []booking.Message) (bool, error) {
	done := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		st, err := lockJobRow(ctx, tx, jobID)
		if err != nil || st.finished {
			return err
		}
		if err := emit(ctx, tx, fn(st.totals)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, finishJob, jobID); err != nil {
			return fmt.Errorf("finish job %s: %w", jobID, err)
		}
		done = true
		return nil
	})
	return done && err == nil, err
}

// jobTx is booking.JobTx over one chunk's transaction.
type jobTx struct {
	tx pgx.Tx
}

// UpdateSession changes a session within the chunk.
func (j jobTx) UpdateSession(ctx context.Context, id uuid.UUID, fn func(*booking.Session) ([]booking.Message, error)) (booking.Session, error) {
	return updateSession(ctx, j.tx, id, fn)
}

// UpdateVolunteer changes an application within the chunk.
func (j jobTx) UpdateVolunteer(ctx context.Context, id uuid.UUID, fn func(*booking.Volunteer) ([]booking.Message, error)) (booking.Volunteer, error) {
	return updateVolunteer(ctx, j.tx, id, fn)
}

// UpdateContact changes a contact message within the chunk.
func (j jobTx) UpdateContact(ctx context.Context, id uuid.UUID, fn func(*booking.Contact) ([]booking.Message, error)) (booking.Contact, error) {
	return updateContact(ctx, j.tx, id, fn)
}

// Delete removes rows of entity within the chunk.
func (j jobTx) Delete(ctx context.Context, entity string, ids []uuid.UUID) ([]uuid.UUID, error) {
	q, ok := deleteSQL(entity)
	if !ok {
		return nil, fmt.Errorf("delete: unknown entity %q", entity)
	}
	rows, err := j.tx.Query(ctx, q, ids)
	if err != nil {
		return nil, fmt.Errorf("delete %s: %w", entity, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// Emit writes messages within the chunk.
func (j jobTx) Emit(ctx context.Context, msgs []booking.Message) error {
	return emit(ctx, j.tx, msgs)
}

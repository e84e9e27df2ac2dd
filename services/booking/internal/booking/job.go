package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// Bulk jobs: the admin service asks with admin.job.requested
// (docs/events/admin.md); booking applies the ids in chunks, each chunk in
// one transaction with its booking.job.progress event and the job's
// cursor, so a restart resumes after the last committed chunk and applies
// nothing twice; booking.job.completed follows the last chunk. The admin
// service writes the audit records of what a job changed.

// Job actions.
const (
	JobDelete       = "delete"
	JobStatusUpdate = "status_update"
)

// Bulk entities, as the admin service names them.
const (
	BulkSessions   = "sessions"
	BulkVolunteers = "volunteers"
	BulkContact    = "contact"
	BulkEvents     = "events"
)

// JobTotals are a job's counts summed over its committed chunks.
type JobTotals struct {
	Processed, Succeeded, Failed int
}

// JobStore keeps the per-job cursor.
type JobStore interface {
	// JobChunk runs fn in one transaction if the job's cursor is at index,
	// giving it the totals of the chunks before; it then adds fn's totals,
	// moves the cursor past index and, when last, marks the job finished.
	// It reports false, without running fn, when the chunk was committed
	// before.
	JobChunk(ctx context.Context, jobID uuid.UUID, index int, last bool, fn func(tx JobTx, before JobTotals) (JobTotals, error)) (bool, error)
	// FinishJob writes fn's messages and marks the job finished, once: it
	// reports false when the job was finished. It answers jobs refused
	// whole, which have no chunks.
	FinishJob(ctx context.Context, jobID uuid.UUID, fn func(JobTotals) []Message) (bool, error)
}

// JobTx is what a chunk does inside its transaction.
type JobTx interface {
	UpdateSession(ctx context.Context, id uuid.UUID, fn func(*Session) ([]Message, error)) (Session, error)
	UpdateVolunteer(ctx context.Context, id uuid.UUID, fn func(*Volunteer) ([]Message, error)) (Volunteer, error)
	UpdateContact(ctx context.Context, id uuid.UUID, fn func(*Contact) ([]Message, error)) (Contact, error)
	// Delete removes the rows of a bulk entity and returns the ids that existed.
	Delete(ctx context.Context, entity string, ids []uuid.UUID) ([]uuid.UUID, error)
	Emit(ctx context.Context, msgs []Message) error
}

// MaxChunkSize bounds the ids of one chunk (docs/events/admin.md).
const MaxChunkSize = 500

// JobChunks is how many chunks a job of ids ids runs in with chunkSize,
// clamped to 1..MaxChunkSize.
func JobChunks(ids, chunkSize int) int {
	chunkSize = min(max(chunkSize, 1), MaxChunkSize)
	return max(1, (ids+chunkSize-1)/chunkSize)
}

// JobRun is how far one run of a job got, for the log.
type JobRun struct {
	// Chunks is the job's number of chunks; 0 when it was refused whole.
	Chunks int
	// Done counts the chunks committed so far, by this run or before it.
	Done int
	// Skipped counts the chunks this run found committed before it: a
	// redelivery resumes after them.
	Skipped int
	// Totals are the counts of every chunk up to the last one this run
	// committed; zero while it has committed none.
	Totals JobTotals
	// Refused says why booking refused the whole job, or "".
	Refused string
}

// RunJob carries out a bulk job to its end. It is safe to run again after
// a crash or a redelivery: committed chunks are skipped, and the
// completion is written once, in the last chunk's transaction. progress,
// when not nil, is called after each chunk this run commits; the run so
// far is returned with any error.
func (s *Service) RunJob(ctx context.Context, req events.JobRequest, chunkSize int, progress func(JobRun)) (JobRun, error) {
	var run JobRun
	if req.JobID == uuid.Nil {
		return run, errors.New("run job: no job id")
	}
	if reason := checkJob(req); reason != "" {
		run.Refused = reason
		_, err := s.store.FinishJob(ctx, req.JobID, func(JobTotals) []Message {
			return []Message{s.jobCompleted(req.JobID, 0, JobTotals{}, reason)}
		})
		if err != nil {
			return run, fmt.Errorf("refuse job %s: %w", req.JobID, err)
		}
		return run, nil
	}
	chunkSize = min(max(chunkSize, 1), MaxChunkSize)
	chunks := JobChunks(len(req.IDs), chunkSize)
	run.Chunks = chunks
	for i := range chunks {
		ids := req.IDs[min(len(req.IDs), i*chunkSize):min(len(req.IDs), (i+1)*chunkSize)]
		last := i == chunks-1
		var (
			deleted []uuid.UUID
			through JobTotals
		)
		ran, err := s.store.JobChunk(ctx, req.JobID, i, last, func(tx JobTx, before JobTotals) (JobTotals, error) {
			p := events.JobProgress{JobID: req.JobID, Chunk: i, Chunks: chunks, Processed: len(ids),
				SucceededIDs: []string{}, NotFoundIDs: []string{}, Failures: []events.JobFailure{}}
			var err error
			deleted, err = s.applyChunk(ctx, tx, req, ids, &p)
			if err != nil {
				return JobTotals{}, err
			}
			// Not found counts as failed: processed = succeeded + failed.
			p.Succeeded, p.Failed = len(p.SucceededIDs), len(p.Failures)+len(p.NotFoundIDs)
			t := JobTotals{Processed: p.Processed, Succeeded: p.Succeeded, Failed: p.Failed}
			through = JobTotals{Processed: before.Processed + t.Processed, Succeeded: before.Succeeded + t.Succeeded,
				Failed: before.Failed + t.Failed}
			msgs := []Message{{Type: events.TypeJobProgress, Data: p}}
			if last {
				msgs = append(msgs, s.jobCompleted(req.JobID, chunks, through, ""))
			}
			return t, tx.Emit(ctx, msgs)
		})
		if err != nil {
			return run, fmt.Errorf("job %s chunk %d: %w", req.JobID, i, err)
		}
		run.Done++
		if !ran {
			run.Skipped++
			continue
		}
		run.Totals = through
		if req.Entity == BulkEvents {
			for _, id := range deleted {
				// Best effort: an orphaned image is harmless, and the
				// rows are gone either way.
				_ = s.images.Remove(ctx, id)
			}
		}
		if progress != nil {
			progress(run)
		}
	}
	return run, nil
}

func (s *Service) jobCompleted(jobID uuid.UUID, chunks int, t JobTotals, reason string) Message {
	return Message{Type: events.TypeJobOwnerCompleted, Data: events.JobOwnerCompleted{JobID: jobID, Chunks: chunks,
		Processed: t.Processed, Succeeded: t.Succeeded, Failed: t.Failed, Error: reason, CompletedAt: s.clock()}}
}

// checkJob says why booking refuses a whole job, or "".
func checkJob(req events.JobRequest) string {
	entities := []string{BulkSessions, BulkVolunteers, BulkContact, BulkEvents}
	switch {
	case !slices.Contains(entities, req.Entity):
		return fmt.Sprintf("booking has no bulk entity %q", req.Entity)
	case req.Action == JobDelete:
		return ""
	case req.Action != JobStatusUpdate:
		return fmt.Sprintf("unknown action %q", req.Action)
	}
	switch req.Entity {
	case BulkSessions:
		if _, ok := ParseStatus(req.Status); !ok {
			return fmt.Sprintf("%q is not a session status", req.Status)
		}
	case BulkVolunteers:
		if !ValidVolunteerStatus(req.Status) {
			return fmt.Sprintf("%q is not a volunteer application status", req.Status)
		}
	case BulkContact:
		if !ValidContactStatus(req.Status) {
			return fmt.Sprintf("%q is not a contact message status", req.Status)
		}
	case BulkEvents:
		return "events have no status to update"
	}
	return ""
}

// applyChunk acts on ids within tx, sorting each into p. Per-id refusals
// are failures; any other error aborts the chunk, to be retried whole.
func (s *Service) applyChunk(ctx context.Context, tx JobTx, req events.JobRequest, ids []string, p *events.JobProgress) ([]uuid.UUID, error) {
	valid := make([]uuid.UUID, 0, len(ids))
	for _, raw := range ids {
		id, err := uuid.Parse(raw)
		if err != nil {
			p.NotFoundIDs = append(p.NotFoundIDs, raw) // no row can have it
			continue
		}
		valid = append(valid, id)
	}
	if req.Action == JobDelete {
		return s.deleteChunk(ctx, tx, req, valid, p)
	}
	a := Actor{ID: req.RequestedBy.ID, Email: req.RequestedBy.Email}
	for _, id := range valid {
		var err error
		switch req.Entity {
		case BulkSessions:
			_, err = tx.UpdateSession(ctx, id, func(x *Session) ([]Message, error) {
				if x.Status == Status(req.Status) {
					return nil, nil
				}
				return s.moveSession(x, Status(req.Status), "bulk status update", a, false)
			})
		case BulkVolunteers:
			_, err = tx.UpdateVolunteer(ctx, id, func(v *Volunteer) ([]Message, error) {
				return s.setStatus(a, EntityVolunteer, TypeVolunteerStatus, v.ID, v.Email, v.Name, &v.Status, &v.StatusReason, &v.UpdatedAt, req.Status, "", false), nil
			})
		case BulkContact:
			_, err = tx.UpdateContact(ctx, id, func(c *Contact) ([]Message, error) {
				return s.setStatus(a, EntityContact, TypeContactStatus, c.ID, c.Email, c.Name, &c.Status, &c.StatusReason, &c.UpdatedAt, req.Status, "", false), nil
			})
		}
		var te *TransitionError
		switch {
		case err == nil:
			p.SucceededIDs = append(p.SucceededIDs, id.String())
		case errors.Is(err, ErrNotFound):
			p.NotFoundIDs = append(p.NotFoundIDs, id.String())
		case errors.As(err, &te):
			p.Failures = append(p.Failures, events.JobFailure{ID: id.String(), Error: te.Error()})
		default:
			return nil, err
		}
	}
	return nil, nil
}

// deletedType is the event type announcing a deletion of entity.
func deletedType(entity string) string {
	switch entity {
	case BulkSessions:
		return TypeSessionDeleted
	case BulkVolunteers:
		return TypeVolunteerDeleted
	case BulkContact:
		return TypeContactDeleted
	}
	return TypeEventDeleted
}

func (s *Service) deleteChunk(ctx context.Context, tx JobTx, req events.JobRequest, ids []uuid.UUID, p *events.JobProgress) ([]uuid.UUID, error) {
	gone, err := tx.Delete(ctx, req.Entity, ids)
	if err != nil {
		return nil, err
	}
	found := make(map[uuid.UUID]bool, len(gone))
	msgs := make([]Message, 0, len(gone))
	for _, id := range gone {
		found[id] = true
		msgs = append(msgs, Message{Type: deletedType(req.Entity), Data: Deleted{Entity: subjectEntity(deletedType(req.Entity)), ID: id, JobID: req.JobID}})
	}
	for _, id := range ids {
		if found[id] {
			p.SucceededIDs = append(p.SucceededIDs, id.String())
		} else {
			p.NotFoundIDs = append(p.NotFoundIDs, id.String())
		}
	}
	return gone, tx.Emit(ctx, msgs)
}

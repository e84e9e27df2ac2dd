package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/audit"
)

// Source names this service in event envelopes.
const Source = "admin"

// Entity is the audit entity of bulk jobs themselves.
const Entity = "bulk_job"

// Store keeps jobs.
type Store interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	// Get returns a job with up to maxFailures failures; ErrNotFound when missing.
	Get(ctx context.Context, id uuid.UUID, maxFailures int) (Job, error)
}

// Tx is what the job use cases do inside one transaction.
type Tx interface {
	Insert(ctx context.Context, j Job) error
	// Lock returns the job, its row locked; ErrNotFound when missing.
	Lock(ctx context.Context, id uuid.UUID) (Job, error)
	// AddChunk records a chunk's report; false when it was recorded before.
	AddChunk(ctx context.Context, p events.JobProgress, at time.Time) (bool, error)
	// Update saves the job's state and counts.
	Update(ctx context.Context, j Job) error
	Emit(ctx context.Context, ev events.Event) error
}

// Recorder observes jobs for metrics.
type Recorder interface {
	Submitted(entity, action, mode string)
	Finished(entity, action, state string, took time.Duration, rows int)
}

// Actor is the admin asking for a job.
type Actor struct {
	ID, Email, Name, ClientIP string
}

// Service carries out the job use cases.
type Service struct {
	store  Store
	rec    Recorder
	maxIDs int
	now    func() time.Time
	log    *slog.Logger
}

// Option configures a Service.
type Option func(*Service)

// WithLogger makes the service write the "BACKGROUND JOB" lines of the
// jobs it orchestrates (README.md, "Following the logs") to log; without
// it they are dropped.
func WithLogger(log *slog.Logger) Option {
	return func(s *Service) { s.log = log.With("component", "bulk_jobs") }
}

// NewService builds the job service.
func NewService(store Store, rec Recorder, maxIDs int, now func() time.Time, opts ...Option) *Service {
	s := &Service{store: store, rec: rec, maxIDs: maxIDs, now: now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// The seed's runbook phrase: operators grep "BACKGROUND JOB" to follow
// background work. The owner that executes a job logs its own started,
// progress and completed lines; these are the job as the admin sees it,
// from request to the audited end.
const (
	msgJobStarted   = "BACKGROUND JOB started"
	msgJobCompleted = "BACKGROUND JOB completed"
	msgJobFailed    = "BACKGROUND JOB failed"
)

// jobAttrs are the fields every line of j carries.
func jobAttrs(j Job) []any {
	return []any{"job_id", j.ID.String(), "kind", "bulk_" + j.Action, "entity", j.Entity}
}

// Submit validates and records a job and, in the same transaction, asks
// the owner to run it and audits the request.
func (s *Service) Submit(ctx context.Context, actor Actor, action string, r Request, mode string) (Job, error) {
	ids, err := r.normalize(action, s.maxIDs)
	if err != nil {
		return Job{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Job{}, fmt.Errorf("new job id: %w", err)
	}
	now := s.now().UTC()
	j := Job{ID: id, Entity: r.Entity, Action: action, Status: r.Status, State: StateQueued, Total: len(ids),
		RequestedBy: events.JobActor{ID: actor.ID, Email: actor.Email, Name: actor.Name}, ClientIP: actor.ClientIP,
		IDs: ids, CreatedAt: now, UpdatedAt: now}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Insert(ctx, j); err != nil {
			return err
		}
		req, err := events.New(Source, TypeRequested, events.JobRequest{JobID: j.ID, Entity: j.Entity, Action: j.Action,
			IDs: ids, Status: j.Status, RequestedBy: j.RequestedBy, RequestedAt: now})
		if err != nil {
			return err
		}
		if err := tx.Emit(ctx, req); err != nil {
			return err
		}
		return emitAudit(ctx, tx, j, "requested", j.ID.String(), now, map[string]any{
			"entity": j.Entity, "action": j.Action, "status": j.Status, "total": j.Total})
	})
	if err != nil {
		return Job{}, fmt.Errorf("submit %s job on %s: %w", action, r.Entity, err)
	}
	s.rec.Submitted(j.Entity, j.Action, mode)
	attrs := append(jobAttrs(j), "state", j.State, "ids", j.Total, "requested_by", j.RequestedBy.ID, "mode", mode)
	if j.Status != "" {
		attrs = append(attrs, "status", j.Status)
	}
	s.log.InfoContext(ctx, msgJobStarted, attrs...)
	return j, nil
}

// Get returns a job with its first failures.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Job, error) {
	j, err := s.store.Get(ctx, id, 100)
	if err != nil {
		return Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// Wait polls the job until it is done, ctx ends or d passes; it returns
// the latest state either way.
func (s *Service) Wait(ctx context.Context, id uuid.UUID, d, every time.Duration) (Job, error) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		j, err := s.Get(ctx, id)
		if err != nil || j.Done() {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, nil
		case <-deadline.C:
			return j, nil
		case <-tick.C:
		}
	}
}

// ErrUnexpectedEvent marks owner events this service does not handle.
var ErrUnexpectedEvent = errors.New("unexpected job event")

// HandleOwnerEvent applies one booking.job.progress or booking.job.completed
// event within tx (the consumer's transaction, which also records the
// event id). Each chunk counts once even if the owner reported it twice;
// every id the chunk changed gets its audit event; when every chunk and
// the owner's completion are in, the job ends and admin.job.completed
// goes out.
func (s *Service) HandleOwnerEvent(ctx context.Context, tx Tx, ev events.Event) error {
	now := s.now().UTC()
	data, err := DecodeOwnerEvent(ev)
	if err != nil {
		return err
	}
	switch d := data.(type) {
	case events.JobProgress:
		return s.progress(ctx, tx, d, now)
	case events.JobOwnerCompleted:
		return s.ownerCompleted(ctx, tx, d, now)
	}
	return fmt.Errorf("%w: %s", ErrUnexpectedEvent, ev.Type)
}

func (s *Service) progress(ctx context.Context, tx Tx, p events.JobProgress, now time.Time) error {
	j, err := tx.Lock(ctx, p.JobID)
	if err != nil {
		return fmt.Errorf("progress of job %s: %w", p.JobID, err)
	}
	fresh, err := tx.AddChunk(ctx, p, now)
	if err != nil || !fresh {
		return err
	}
	j.Processed += p.Processed
	j.Succeeded += p.Succeeded
	j.Failed += p.Failed
	j.NotFound += len(p.NotFoundIDs)
	j.ChunksDone++
	j.Chunks = max(j.Chunks, p.Chunks)
	if j.State == StateQueued {
		j.State = StateRunning
	}
	action := "bulk_" + j.Action
	for _, id := range p.SucceededIDs {
		changes := map[string]any{"job_id": j.ID.String(), "deleted": true}
		if j.Action == ActionStatusUpdate {
			changes = map[string]any{"job_id": j.ID.String(), "status": map[string]string{"to": j.Status}}
		}
		if err := emitAuditAs(ctx, tx, j, j.Entity, action, id, now, changes); err != nil {
			return err
		}
	}
	return s.finishIfDone(ctx, tx, j, now)
}

func (s *Service) ownerCompleted(ctx context.Context, tx Tx, c events.JobOwnerCompleted, now time.Time) error {
	j, err := tx.Lock(ctx, c.JobID)
	if err != nil {
		return fmt.Errorf("completion of job %s: %w", c.JobID, err)
	}
	if j.Reported {
		return nil
	}
	j.Reported = true
	j.Chunks = c.Chunks
	j.Error = c.Error
	return s.finishIfDone(ctx, tx, j, now)
}

// finishIfDone ends the job once the owner has reported completion and
// every chunk it announced has been counted, whichever arrives last.
func (s *Service) finishIfDone(ctx context.Context, tx Tx, j Job, now time.Time) error {
	j.UpdatedAt = now
	if j.Done() || !j.Reported || j.ChunksDone < j.Chunks {
		return tx.Update(ctx, j)
	}
	j.State = StateCompleted
	if j.Error != "" {
		j.State = StateFailed
	}
	j.CompletedAt = &now
	if err := tx.Update(ctx, j); err != nil {
		return err
	}
	done, err := events.New(Source, TypeCompleted, events.JobCompleted{JobID: j.ID, AdminID: j.RequestedBy.ID,
		AdminEmail: j.RequestedBy.Email, AdminName: j.RequestedBy.Name, Entity: j.Entity, Action: j.Action,
		Status: j.Status, State: j.State, Total: j.Total, Succeeded: j.Succeeded, Failed: j.Failed,
		NotFound: j.NotFound, Error: j.Error, RequestedAt: j.CreatedAt, CompletedAt: now})
	if err != nil {
		return err
	}
	if err := tx.Emit(ctx, done); err != nil {
		return err
	}
	s.rec.Finished(j.Entity, j.Action, j.State, now.Sub(j.CreatedAt), j.Processed)
	s.logEnd(ctx, j, now)
	return emitAudit(ctx, tx, j, j.State, j.ID.String(), now, map[string]any{
		"state": j.State, "total": j.Total, "succeeded": j.Succeeded, "failed": j.Failed, "not_found": j.NotFound})
}

// logEnd writes the job's last line. It is written in the transaction
// that ends the job: should that transaction fail to commit, the event is
// redelivered and the line written again, with the same job id.
func (s *Service) logEnd(ctx context.Context, j Job, now time.Time) {
	attrs := append(jobAttrs(j), "state", j.State, "total", j.Total, "processed", j.Processed,
		"succeeded", j.Succeeded, "failed", j.Failed, "not_found", j.NotFound, "chunks", j.Chunks,
		"duration_ms", now.Sub(j.CreatedAt).Milliseconds())
	if j.State == StateFailed {
		s.log.ErrorContext(ctx, msgJobFailed, append(attrs, "error", j.Error, "will_retry", false)...)
		return
	}
	s.log.InfoContext(ctx, msgJobCompleted, attrs...)
}

func emitAudit(ctx context.Context, tx Tx, j Job, action, entityID string, at time.Time, changes any) error {
	return emitAuditAs(ctx, tx, j, Entity, action, entityID, at, changes)
}

func emitAuditAs(ctx context.Context, tx Tx, j Job, entity, action, entityID string, at time.Time, changes any) error {
	rec := events.AuditRecord{ActorID: j.RequestedBy.ID, ActorEmail: j.RequestedBy.Email, Action: action,
		Entity: entity, EntityID: entityID, ClientIP: j.ClientIP, Changes: audit.Changes(changes), OccurredAt: at}
	ev, err := rec.Event(Source)
	if err != nil {
		return err
	}
	return tx.Emit(ctx, ev)
}

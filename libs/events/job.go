package events

import (
	"time"

	"github.com/google/uuid"
)

// The bulk-job protocol between the admin service and the owner of the
// entities (booking), docs/events/admin.md: admin.job.requested asks,
// booking.job.progress reports each chunk in the transaction that applies
// it, booking.job.completed ends the job.

// Types (and subjects) of the bulk-job protocol.
const (
	TypeJobRequested = "admin.job.requested"
	TypeJobProgress  = "booking.job.progress"
	// TypeJobOwnerCompleted is the owner's end of the work; the admin
	// service then announces TypeJobCompleted.
	TypeJobOwnerCompleted = "booking.job.completed"
)

// JobActor names the admin who asked for a job.
type JobActor struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// JobRequest is the data of admin.job.requested.
type JobRequest struct {
	JobID       uuid.UUID `json:"job_id"`
	Entity      string    `json:"entity"`
	Action      string    `json:"action"`
	IDs         []string  `json:"ids"`
	Status      string    `json:"status,omitempty"`
	RequestedBy JobActor  `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
}

// EventKey orders the request before the job's progress and completion.
func (d JobRequest) EventKey() string { return JobKey(d.JobID) }

// JobFailure is one id the owner could not act on.
type JobFailure struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// JobProgress is the data of booking.job.progress: the outcome of one
// chunk. Chunks are consecutive runs of the requested ids in request
// order, numbered from 0; the owner reports each exactly once.
type JobProgress struct {
	JobID        uuid.UUID    `json:"job_id"`
	Chunk        int          `json:"chunk"`
	Chunks       int          `json:"chunks"`
	Processed    int          `json:"processed"`
	Succeeded    int          `json:"succeeded"`
	Failed       int          `json:"failed"`
	SucceededIDs []string     `json:"succeeded_ids"`
	NotFoundIDs  []string     `json:"not_found_ids"`
	Failures     []JobFailure `json:"failures"`
}

// EventKey orders the job's chunks with its completion, so the admin
// service never sees the owner's completion before the last chunk.
func (d JobProgress) EventKey() string { return JobKey(d.JobID) }

// JobOwnerCompleted is the data of booking.job.completed, sent after the
// last chunk. Error is set when the owner refused the whole job (unknown
// entity, invalid status); then Chunks is 0.
type JobOwnerCompleted struct {
	JobID       uuid.UUID `json:"job_id"`
	Chunks      int       `json:"chunks"`
	Processed   int       `json:"processed"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	Error       string    `json:"error,omitempty"`
	CompletedAt time.Time `json:"completed_at"`
}

// EventKey orders the completion after the job's chunks.
func (d JobOwnerCompleted) EventKey() string { return JobKey(d.JobID) }

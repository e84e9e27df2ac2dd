// Package job is the durable bulk-job path (docs/events/admin.md): the
// admin service records a bulk delete or status update and asks the
// entity's owner to carry it out with admin.job.requested; the owner works
// in chunks and reports booking.job.progress per chunk and
// booking.job.completed at the end; the admin service counts the chunks
// once each, audits every affected id and announces admin.job.completed,
// from which the mailer sends the report.
package job

import (
	"time"

	"github.com/google/uuid"
)

// Event types (and subjects) of the protocol.
const (
	TypeRequested = "admin.job.requested"
	TypeCompleted = "admin.job.completed"
	// The owner's reports; booking is the owner of every bulk entity today.
	TypeOwnerProgress  = "booking.job.progress"
	TypeOwnerCompleted = "booking.job.completed"
)

// Actions a job can take.
const (
	ActionDelete       = "delete"
	ActionStatusUpdate = "status_update"
)

// Entities lists the entities bulk jobs may touch, all owned by booking.
func Entities() []string { return []string{"sessions", "volunteers", "contact", "events"} }

// ActorRef names the admin who asked for a job.
type ActorRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Requested is the data of admin.job.requested.
type Requested struct {
	JobID       uuid.UUID `json:"job_id"`
	Entity      string    `json:"entity"`
	Action      string    `json:"action"`
	IDs         []string  `json:"ids"`
	Status      string    `json:"status,omitempty"`
	RequestedBy ActorRef  `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
}

// Failure is one id the owner could not act on.
type Failure struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// Progress is the data of booking.job.progress: the outcome of one chunk.
// Chunks are consecutive runs of the requested ids in request order,
// numbered from 0; the owner reports each exactly once, in the
// transaction that applies it.
type Progress struct {
	JobID        uuid.UUID `json:"job_id"`
	Chunk        int       `json:"chunk"`
	Chunks       int       `json:"chunks"`
	Processed    int       `json:"processed"`
	Succeeded    int       `json:"succeeded"`
	Failed       int       `json:"failed"`
	SucceededIDs []string  `json:"succeeded_ids"`
	NotFoundIDs  []string  `json:"not_found_ids"`
	Failures     []Failure `json:"failures"`
}

// OwnerCompleted is the data of booking.job.completed, sent after the
// last chunk. Error is set when the owner refused the whole job (unknown
// entity, invalid status); then Chunks is 0.
type OwnerCompleted struct {
	JobID       uuid.UUID `json:"job_id"`
	Chunks      int       `json:"chunks"`
	Processed   int       `json:"processed"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	Error       string    `json:"error,omitempty"`
	CompletedAt time.Time `json:"completed_at"`
}

// Completed is the data of admin.job.completed; the mailer sends the
// report to AdminEmail from it.
type Completed struct {
	JobID       uuid.UUID `json:"job_id"`
	AdminID     string    `json:"admin_id"`
	AdminEmail  string    `json:"admin_email"`
	AdminName   string    `json:"admin_name"`
	Entity      string    `json:"entity"`
	Action      string    `json:"action"`
	Status      string    `json:"status,omitempty"`
	State       string    `json:"state"`
	Total       int       `json:"total"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	NotFound    int       `json:"not_found"`
	Error       string    `json:"error,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	CompletedAt time.Time `json:"completed_at"`
}

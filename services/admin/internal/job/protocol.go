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

	"github.com/acube/platform/libs/events"
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

// The protocol's messages are the platform's (libs/events), shared with
// the owner that executes jobs.
type (
	// ActorRef names the admin who asked for a job.
	ActorRef = events.JobActor
	// Requested is the data of admin.job.requested.
	Requested = events.JobRequest
	// Failure is one id the owner could not act on.
	Failure = events.JobFailure
	// Progress is the data of booking.job.progress.
	Progress = events.JobProgress
	// OwnerCompleted is the data of booking.job.completed.
	OwnerCompleted = events.JobOwnerCompleted
)

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

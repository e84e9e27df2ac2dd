package events

import (
	"time"

	"github.com/google/uuid"
)

// The admin service's events that other services read
// (docs/events/admin.md). The bulk-job request is in job.go.
const (
	TypeAccountCreated = "admin.account.created"
	// TypeJobCompleted is the admin service's announcement that a bulk job
	// ended, from which the mailer sends the report; the owner's own end
	// of the work is TypeJobOwnerCompleted.
	TypeJobCompleted = "admin.job.completed"
)

// AdminRef names an admin inside event data.
type AdminRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// AccountCreated is the data of admin.account.created: a new admin
// account exists. It carries no password or token; the mailer's welcome
// email points to the login page.
type AccountCreated struct {
	AccountID uuid.UUID `json:"account_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedBy AdminRef  `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// LoginURL is the admin login page; the mailer uses PUBLIC_BASE_URL +
	// /admin when it is empty.
	LoginURL string `json:"login_url,omitempty"`
}

// EventKey orders the event with the account's other events.
func (d AccountCreated) EventKey() string { return AccountKey(d.AccountID) }

// JobCompleted is the data of admin.job.completed: a bulk job ended, with
// every chunk counted; the mailer sends the report to AdminEmail.
type JobCompleted struct {
	JobID      uuid.UUID `json:"job_id"`
	AdminID    string    `json:"admin_id"`
	AdminEmail string    `json:"admin_email"`
	AdminName  string    `json:"admin_name"`
	// Entity is what the job changed: sessions, volunteers, contact, events.
	Entity string `json:"entity"`
	// Action is delete or status_update; Status the new status of a
	// status_update.
	Action string `json:"action"`
	Status string `json:"status,omitempty"`
	// State is completed (every id tried) or failed (the owner refused
	// the job, saying why in Error).
	State       string    `json:"state"`
	Total       int       `json:"total"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	NotFound    int       `json:"not_found"`
	Error       string    `json:"error,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
	CompletedAt time.Time `json:"completed_at"`
	// JobURL shows the job's status and errors; the mailer links
	// /api/admin/jobs/{job_id} when it is empty.
	JobURL string `json:"job_url,omitempty"`
}

// EventKey orders the event after the job's request and progress.
func (d JobCompleted) EventKey() string { return JobKey(d.JobID) }

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
	// TypeSessionsRevoked tells every service that verifies admin access
	// tokens to refuse some of them before they expire: those of one login
	// session, or of every session of an admin (libs/authn.Revocations).
	TypeSessionsRevoked = "admin.sessions.revoked"
)

// Reasons a SessionsRevoked event gives.
const (
	RevokeReasonLogout          = "logout"
	RevokeReasonDisabled        = "disabled"
	RevokeReasonPasswordChanged = "password_changed"
	RevokeReasonRoleChanged     = "role_changed"
	RevokeReasonRefreshReuse    = "refresh_reuse"
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

// SessionsRevoked is the data of admin.sessions.revoked: access tokens of
// AdminID issued before NotBefore are no longer valid, those of the one
// login session SessionID when it is set (a logout), or of every session
// of the admin when it is empty (disabled, password or role changed).
// Verifiers keep the entry only as long as an access token can live.
type SessionsRevoked struct {
	AdminID uuid.UUID `json:"admin_id"`
	// SessionID is the login session (the refresh-token family id, the
	// access token's sid claim); empty means every session of the admin.
	SessionID string `json:"session_id,omitempty"`
	// NotBefore: tokens of that admin or session issued (iat) before it
	// are refused; tokens issued at or after it are not affected.
	NotBefore time.Time `json:"not_before"`
	// Reason is one of the RevokeReason constants, for logs and metrics.
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
}

// EventKey orders the event with the account's other events.
func (d SessionsRevoked) EventKey() string { return AccountKey(d.AdminID) }

// TypeAccountInvited announces an invitation: a superadmin added an admin
// who sets their own password through the single-use link in it, from
// which the mailer sends the invitation email.
const TypeAccountInvited = "admin.account.invited"

// AccountInvited is the data of admin.account.invited. Nobody but the
// invitee ever knows the password: the account has none until the link
// is used.
type AccountInvited struct {
	AccountID    uuid.UUID `json:"account_id"`
	InvitationID uuid.UUID `json:"invitation_id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	InvitedBy    AdminRef  `json:"invited_by"`
	// AcceptURL is the page where the invitee sets a password: a path the
	// mailer joins to PUBLIC_BASE_URL, carrying the invitation's token.
	// The token is a bearer secret, stored by the admin service only as a
	// hash, usable once and only until ExpiresAt (24 hours): never log it.
	AcceptURL string    `json:"accept_url"`
	ExpiresAt time.Time `json:"expires_at"`
	InvitedAt time.Time `json:"invited_at"`
}

// EventKey orders the event with the account's other events.
func (d AccountInvited) EventKey() string { return AccountKey(d.AccountID) }

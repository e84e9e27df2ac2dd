package email

import (
	"time"

	"github.com/google/uuid"
)

// Event types (and subjects) the mailer turns into email. docs/events/mailer.md
// is the contract publishers follow; these structs are its Go form. Unknown
// fields are ignored, so publishers may add fields without breaking the mailer.
const (
	TypeSessionBooked         = "booking.session.booked"
	TypeSessionStatusChanged  = "booking.session.status_changed"
	TypeEventRegistered       = "booking.event.registered"
	TypeEventWaitlisted       = "booking.event.waitlisted"
	TypeEventPromoted         = "booking.event.promoted"
	TypeEventRescheduled      = "booking.event.rescheduled"
	TypeRegistrationCancelled = "booking.event.registration_cancelled"
	TypeVolunteerApplied      = "booking.volunteer.applied"
	TypeContactReceived       = "booking.contact.received"
	TypeAccountCreated        = "admin.account.created"
	TypeJobCompleted          = "admin.job.completed"
	TypeExportCompleted       = "exporter.export.completed"
)

// Recipient is who the email goes to. Every event the mailer reads names
// exactly one.
type Recipient struct {
	// Email is the recipient's address (required).
	Email string `json:"email"`
	// Name is how the email greets the recipient; empty greets without one.
	Name string `json:"name"`
}

// AdminRecipient is the admin an operational email (bulk report, export
// ready) goes to: admin and exporter events name the admin who asked as
// admin_email and admin_name.
type AdminRecipient struct {
	Email string `json:"admin_email"`
	Name  string `json:"admin_name"`
}

// SessionBooked is booking.session.booked: a person booked a therapy
// session. It matches booking's SessionBooked plus the manage link.
type SessionBooked struct {
	Recipient
	SessionID     uuid.UUID `json:"session_id"`
	SessionType   string    `json:"session_type"`
	PreferredDate string    `json:"preferred_date"` // YYYY-MM-DD
	Status        string    `json:"status"`
	BookedAt      time.Time `json:"booked_at"`
	// ManageURL is the signed link to view or cancel the booking; absolute,
	// or a path joined to PUBLIC_BASE_URL. Optional.
	ManageURL string `json:"manage_url,omitempty"`
}

// SessionStatusChanged is booking.session.status_changed: an admin (or the
// booker, cancelling) moved a session to another status.
type SessionStatusChanged struct {
	Recipient
	SessionID      uuid.UUID `json:"session_id"`
	SessionType    string    `json:"session_type"`
	PreferredDate  string    `json:"preferred_date"` // YYYY-MM-DD
	PreviousStatus string    `json:"previous_status"`
	Status         string    `json:"status"`
	ChangedAt      time.Time `json:"changed_at"`
	ManageURL      string    `json:"manage_url,omitempty"`
}

// EventRegistration is the data of booking.event.registered (a seat is
// taken), booking.event.waitlisted (the event was full) and
// booking.event.promoted (a waitlisted person got a seat after a
// cancellation).
type EventRegistration struct {
	Recipient
	RegistrationID uuid.UUID `json:"registration_id"`
	EventID        uuid.UUID `json:"event_id"`
	EventTitle     string    `json:"event_title"`
	StartsAt       time.Time `json:"starts_at"`
	EndsAt         time.Time `json:"ends_at"`
	Location       string    `json:"location"`
	// WaitlistPosition is the 1-based place on the waitlist; waitlisted only.
	WaitlistPosition int `json:"waitlist_position,omitempty"`
	// ManageURL is the signed link to view or cancel the registration. Optional.
	ManageURL string `json:"manage_url,omitempty"`
}

// CancelledByRegistrant is RegistrationCancelled.CancelledBy when the
// person cancelled through their manage link; anything else names the
// admin who cancelled for them.
const CancelledByRegistrant = "registrant"

// RegistrationCancelled is booking.event.registration_cancelled: a
// registration (or waitlist entry) was cancelled, by its holder or by an
// admin on their behalf.
type RegistrationCancelled struct {
	Recipient
	RegistrationID uuid.UUID `json:"registration_id"`
	EventID        uuid.UUID `json:"event_id"`
	EventTitle     string    `json:"event_title"`
	StartsAt       time.Time `json:"starts_at"`
	EndsAt         time.Time `json:"ends_at"`
	Location       string    `json:"location"`
	// PreviousStatus is what the registration was: confirmed (a seat) or
	// waitlisted. Optional.
	PreviousStatus string `json:"previous_status,omitempty"`
	// CancelledBy is CancelledByRegistrant or the admin's email, which the
	// email never shows: the registrant hears from "our team".
	CancelledBy string `json:"cancelled_by"`
	// Reason is what the admin wrote, if anything; free text up to 1000
	// characters, newlines included.
	Reason      string    `json:"reason,omitempty"`
	CancelledAt time.Time `json:"cancelled_at,omitzero"`
}

// EventRescheduled is booking.event.rescheduled: an admin changed the time
// or place of an event; one per live registration.
type EventRescheduled struct {
	Recipient
	RegistrationID uuid.UUID `json:"registration_id"`
	// Status is the registration's after the change: confirmed or
	// waitlisted, with its 1-based WaitlistPosition.
	Status           string    `json:"status"`
	WaitlistPosition int       `json:"waitlist_position,omitempty"`
	EventID          uuid.UUID `json:"event_id"`
	EventTitle       string    `json:"event_title"`
	// StartsAt, EndsAt and Location are the event after the change; the
	// Previous ones before it.
	StartsAt         time.Time `json:"starts_at"`
	EndsAt           time.Time `json:"ends_at"`
	Location         string    `json:"location"`
	PreviousStartsAt time.Time `json:"previous_starts_at"`
	PreviousEndsAt   time.Time `json:"previous_ends_at"`
	PreviousLocation string    `json:"previous_location"`
	RescheduledAt    time.Time `json:"rescheduled_at"`
	// ManageURL is the signed link to view or cancel the registration,
	// valid until after the new end. Optional.
	ManageURL string `json:"manage_url,omitempty"`
}

// VolunteerApplied is booking.volunteer.applied.
type VolunteerApplied struct {
	Recipient
	ApplicationID uuid.UUID `json:"application_id"`
	AppliedAt     time.Time `json:"applied_at"`
}

// ContactReceived is booking.contact.received. The message text is not
// part of it: the acknowledgment never echoes what a stranger typed, so the
// form cannot be used to send arbitrary text from our domain.
type ContactReceived struct {
	Recipient
	ContactID  uuid.UUID `json:"contact_id"`
	ReceivedAt time.Time `json:"received_at"`
}

// AccountCreated is admin.account.created: a new admin account exists. It
// carries no password or token; the welcome email points to the login page.
type AccountCreated struct {
	Recipient
	AdminID   uuid.UUID `json:"account_id"`
	CreatedAt time.Time `json:"created_at"`
	// LoginURL is the admin login page. Optional: PUBLIC_BASE_URL + /admin.
	LoginURL string `json:"login_url,omitempty"`
}

// JobCompleted is admin.job.completed as the admin service publishes it
// (docs/events/admin.md): a bulk job ended; the recipient is the admin who
// started it.
type JobCompleted struct {
	AdminRecipient
	JobID uuid.UUID `json:"job_id"`
	// Operation is "delete" or "status_update".
	Operation string `json:"action"`
	// Entity is what the job changed: sessions, volunteers, contact, events.
	Entity string `json:"entity"`
	// TargetStatus is the new status of a status_update job.
	TargetStatus string `json:"status,omitempty"`
	// Outcome is "completed" (every id tried) or "failed" (the owner
	// refused the job).
	Outcome    string    `json:"state"`
	Requested  int       `json:"total"`
	Succeeded  int       `json:"succeeded"`
	Failed     int       `json:"failed"`
	StartedAt  time.Time `json:"requested_at"`
	FinishedAt time.Time `json:"completed_at"`
	// JobURL shows the job's status and errors. Optional: the mailer links
	// /api/admin/jobs/{job_id} when it is absent.
	JobURL string `json:"job_url,omitempty"`
}

// ExportCompleted is exporter.export.completed: a file is ready; the
// recipient is the admin who asked for it.
type ExportCompleted struct {
	AdminRecipient
	ExportID uuid.UUID `json:"export_id"`
	// Kind is what was exported, e.g. audit-logs.
	Kind  string `json:"kind"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
	// DownloadURL needs an admin login and stops working at ExpiresAt
	// (required).
	DownloadURL string    `json:"download_url"`
	ExpiresAt   time.Time `json:"expires_at"`
	CompletedAt time.Time `json:"completed_at"`
}

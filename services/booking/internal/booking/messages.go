package booking

import (
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// Source names this service in event envelopes.
const Source = "booking"

// Message is one event to publish: its type (also its subject) and data.
// The store wraps it in an envelope and writes it to the outbox in the
// transaction that makes the change. docs/events/booking.md is the
// contract of every type.
type Message struct {
	Type string
	Data any
}

// Event types (and subjects) booking publishes.
const (
	TypeSessionBooked         = "booking.session.booked"
	TypeSessionStatusChanged  = "booking.session.status_changed"
	TypeSessionDeleted        = "booking.session.deleted"
	TypeEventCreated          = "booking.event.created"
	TypeEventUpdated          = "booking.event.updated"
	TypeEventImageUpdated     = "booking.event.image_updated"
	TypeEventDeleted          = "booking.event.deleted"
	TypeEventRegistered       = "booking.event.registered"
	TypeEventWaitlisted       = "booking.event.waitlisted"
	TypeEventPromoted         = "booking.event.promoted"
	TypeEventRescheduled      = "booking.event.rescheduled"
	TypeRegistrationCancelled = "booking.event.registration_cancelled"
	TypeVolunteerApplied      = "booking.volunteer.applied"
	TypeVolunteerStatus       = "booking.volunteer.status_changed"
	TypeVolunteerDeleted      = "booking.volunteer.deleted"
	TypeContactReceived       = "booking.contact.received"
	TypeContactStatus         = "booking.contact.status_changed"
	TypeContactDeleted        = "booking.contact.deleted"
	TypeJobProgress           = "booking.job.progress"
	TypeJobCompleted          = "booking.job.completed"
)

// SessionBooked is the data of booking.session.booked: everything the
// mailer needs for the confirmation, so it never reads booking's tables.
type SessionBooked struct {
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	SessionID     uuid.UUID `json:"session_id"`
	SessionType   string    `json:"session_type"`
	PreferredDate string    `json:"preferred_date"`
	Status        string    `json:"status"`
	BookedAt      time.Time `json:"booked_at"`
	ManageURL     string    `json:"manage_url"`
}

// SessionStatusChanged is the data of booking.session.status_changed.
type SessionStatusChanged struct {
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	SessionID      uuid.UUID `json:"session_id"`
	SessionType    string    `json:"session_type"`
	PreferredDate  string    `json:"preferred_date"`
	PreviousStatus string    `json:"previous_status"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason"`
	ChangedBy      string    `json:"changed_by"`
	ChangedAt      time.Time `json:"changed_at"`
	ManageURL      string    `json:"manage_url"`
}

// Deleted is the data of booking.<entity>.deleted: only the id, so a
// deletion does not spread the personal data it removes.
type Deleted struct {
	ID    uuid.UUID `json:"id"`
	JobID uuid.UUID `json:"job_id"`
}

// EventCreated is the data of booking.event.created.
type EventCreated struct {
	EventID  uuid.UUID `json:"event_id"`
	Title    string    `json:"title"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Location string    `json:"location"`
	Capacity int       `json:"capacity"`
}

// EventUpdated is the data of booking.event.updated: the event as it is
// after an admin's change, what changed, and how many waitlisted people a
// raised capacity seated (each also gets booking.event.promoted). It
// carries no registrant: each live registration hears of a new time or
// place through its own booking.event.rescheduled.
type EventUpdated struct {
	EventID  uuid.UUID `json:"event_id"`
	Title    string    `json:"title"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Location string    `json:"location"`
	Capacity int       `json:"capacity"`
	// Changes holds {"from", "to"} by field name (title, description,
	// location, starts_at, ends_at, capacity); only fields that changed.
	Changes  map[string]change `json:"changes"`
	Promoted int               `json:"promoted"`
	// Notified counts the live registrations told of a new time or place,
	// each by its own booking.event.rescheduled.
	Notified  int       `json:"notified"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EventImageUpdated is the data of booking.event.image_updated.
type EventImageUpdated struct {
	EventID     uuid.UUID `json:"event_id"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	ImageURL    string    `json:"image_url"`
}

// RegistrationData is the data of booking.event.registered,
// booking.event.waitlisted, booking.event.promoted and
// booking.event.registration_cancelled, in the mailer's shape.
type RegistrationData struct {
	Email            string    `json:"email"`
	Name             string    `json:"name"`
	RegistrationID   uuid.UUID `json:"registration_id"`
	EventID          uuid.UUID `json:"event_id"`
	EventTitle       string    `json:"event_title"`
	StartsAt         time.Time `json:"starts_at"`
	EndsAt           time.Time `json:"ends_at"`
	Location         string    `json:"location"`
	Status           string    `json:"status"`
	WaitlistPosition int       `json:"waitlist_position,omitempty"`
	ManageURL        string    `json:"manage_url,omitempty"`
	// CancelledBy, Reason, PreviousStatus and CancelledAt are set on
	// registration_cancelled only: "registrant" or the admin's email, the
	// admin's reason, what the registration was (confirmed or waitlisted)
	// and when it was cancelled, so the mailer can word its email.
	CancelledBy    string    `json:"cancelled_by,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	PreviousStatus string    `json:"previous_status,omitempty"`
	CancelledAt    time.Time `json:"cancelled_at,omitzero"`
}

// EventRescheduled is the data of booking.event.rescheduled: an admin
// moved an event or changed its place, told to one live registration
// (confirmed or waitlisted), with what its email needs. Every live
// registration gets one, in the transaction of the change.
type EventRescheduled struct {
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	RegistrationID uuid.UUID `json:"registration_id"`
	// Status and WaitlistPosition are the registration's after the change
	// (a raised capacity may have seated it in the same change).
	Status           string    `json:"status"`
	WaitlistPosition int       `json:"waitlist_position,omitempty"`
	ManageURL        string    `json:"manage_url"`
	EventID          uuid.UUID `json:"event_id"`
	EventTitle       string    `json:"event_title"`
	// StartsAt, EndsAt and Location are the event after the change, the
	// Previous ones before it; all six are always set, changed or not.
	StartsAt         time.Time `json:"starts_at"`
	EndsAt           time.Time `json:"ends_at"`
	Location         string    `json:"location"`
	PreviousStartsAt time.Time `json:"previous_starts_at"`
	PreviousEndsAt   time.Time `json:"previous_ends_at"`
	PreviousLocation string    `json:"previous_location"`
	RescheduledAt    time.Time `json:"rescheduled_at"`
}

// VolunteerApplied is the data of booking.volunteer.applied.
type VolunteerApplied struct {
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	ApplicationID uuid.UUID `json:"application_id"`
	AppliedAt     time.Time `json:"applied_at"`
}

// ContactReceived is the data of booking.contact.received. It never holds
// the message text, so the acknowledgment cannot echo a stranger's words.
type ContactReceived struct {
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	ContactID  uuid.UUID `json:"contact_id"`
	ReceivedAt time.Time `json:"received_at"`
}

// StatusChanged is the data of booking.volunteer.status_changed and
// booking.contact.status_changed.
type StatusChanged struct {
	ID             uuid.UUID `json:"id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	PreviousStatus string    `json:"previous_status"`
	Status         string    `json:"status"`
	ChangedBy      string    `json:"changed_by"`
	ChangedAt      time.Time `json:"changed_at"`
}

// Actor is the admin behind an action, and where the request came from.
type Actor struct {
	ID       string
	Email    string
	ClientIP string
}

// Audit entities booking records actions on: the plural resource names
// of the API, as docs/events/admin.md asks.
const (
	EntitySession      = "sessions"
	EntityEvent        = "events"
	EntityRegistration = "registrations"
	EntityVolunteer    = "volunteers"
	EntityContact      = "contact"
)

// audit describes an admin action as an audit.<entity>.<action> message
// carrying the platform's audit record (libs/events).
func audit(a Actor, entity, action, entityID string, changes any, at time.Time) Message {
	rec := events.AuditRecord{
		ActorID: a.ID, ActorEmail: a.Email, Action: action, Entity: entity, EntityID: entityID,
		ClientIP: a.ClientIP, Changes: events.AuditChanges(changes), OccurredAt: at.UTC(),
	}
	return Message{Type: rec.Subject(), Data: rec}
}

// change is the {"from": ..., "to": ...} entry of an audit record or of
// booking.event.updated.
type change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

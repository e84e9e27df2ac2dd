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

// Event types (and subjects) booking publishes. Those other services read
// are libs/events' (with their data types); the rest are booking's own.
const (
	TypeSessionDeleted    = "booking.session.deleted"
	TypeEventCreated      = "booking.event.created"
	TypeEventUpdated      = "booking.event.updated"
	TypeEventImageUpdated = "booking.event.image_updated"
	TypeEventDeleted      = "booking.event.deleted"
	TypeVolunteerStatus   = "booking.volunteer.status_changed"
	TypeVolunteerDeleted  = "booking.volunteer.deleted"
	TypeContactStatus     = "booking.contact.status_changed"
	TypeContactDeleted    = "booking.contact.deleted"
)

// Deleted is the data of booking.<entity>.deleted: only the id, so a
// deletion does not spread the personal data it removes.
type Deleted struct {
	// Entity is the kind of thing deleted, as its subject names it:
	// session, event, volunteer or contact. With ID it keys the event.
	Entity string    `json:"entity"`
	ID     uuid.UUID `json:"id"`
	JobID  uuid.UUID `json:"job_id"`
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

// StatusChanged is the data of booking.volunteer.status_changed and
// booking.contact.status_changed.
type StatusChanged struct {
	// Entity is volunteer or contact, as the subject names it. With ID it
	// keys the event.
	Entity         string    `json:"entity"`
	ID             uuid.UUID `json:"id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	PreviousStatus string    `json:"previous_status"`
	Status         string    `json:"status"`
	// Reason is why the admin changed the status, when they said.
	Reason    string    `json:"reason,omitempty"`
	ChangedBy string    `json:"changed_by"`
	ChangedAt time.Time `json:"changed_at"`
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

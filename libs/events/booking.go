package events

import (
	"time"

	"github.com/google/uuid"
)

// Booking's events that other services read (docs/events/booking.md): the
// mailer turns each into one email to the person it names in email and
// name. Booking publishes them; booking-only events (deletions, event
// changes, volunteer and contact status) stay in the booking service.
const (
	TypeSessionBooked          = "booking.session.booked"
	TypeSessionStatusChanged   = "booking.session.status_changed"
	TypeEventRegistered        = "booking.event.registered"
	TypeEventWaitlisted        = "booking.event.waitlisted"
	TypeEventPromoted          = "booking.event.promoted"
	TypeEventRescheduled       = "booking.event.rescheduled"
	TypeRegistrationCancelled  = "booking.event.registration_cancelled"
	TypeEventAlreadyRegistered = "booking.event.already_registered"
	TypeVolunteerApplied       = "booking.volunteer.applied"
	TypeContactReceived        = "booking.contact.received"
)

// SessionBooked is the data of booking.session.booked: everything the
// mailer needs for the confirmation, so it never reads booking's tables.
type SessionBooked struct {
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	SessionID     uuid.UUID `json:"session_id"`
	SessionType   string    `json:"session_type"`
	PreferredDate string    `json:"preferred_date"` // YYYY-MM-DD
	Status        string    `json:"status"`
	BookedAt      time.Time `json:"booked_at"`
	// ManageExpires is when the manage link the mailer mints for this
	// record (libs/managelink) stops working. No link or token travels in
	// the payload: events are retained for days and readable through the
	// dead-letter API.
	ManageExpires time.Time `json:"manage_expires,omitzero"`
	// ManageURL is decode-only: events published before ManageExpires
	// existed carried the signed link itself, and the mailer still uses it
	// when ManageExpires is zero. Booking never sets it.
	ManageURL string `json:"manage_url,omitempty"`
}

// EventKey orders the event with the session's other events.
func (d SessionBooked) EventKey() string { return SessionKey(d.SessionID) }

// SessionStatusChanged is the data of booking.session.status_changed: an
// admin (or the booker, cancelling) moved a session to another status.
type SessionStatusChanged struct {
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	SessionID      uuid.UUID `json:"session_id"`
	SessionType    string    `json:"session_type"`
	PreferredDate  string    `json:"preferred_date"` // YYYY-MM-DD
	PreviousStatus string    `json:"previous_status"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason"`
	ChangedBy      string    `json:"changed_by"`
	ChangedAt      time.Time `json:"changed_at"`
	// ManageExpires and ManageURL: see SessionBooked.
	ManageExpires time.Time `json:"manage_expires,omitzero"`
	ManageURL     string    `json:"manage_url,omitempty"`
}

// EventKey orders the event with the session's other events, so the
// mailer never tells of a new status before the booking itself.
func (d SessionStatusChanged) EventKey() string { return SessionKey(d.SessionID) }

// CancelledByRegistrant is Registration.CancelledBy when the person
// cancelled through their manage link; anything else names the admin who
// cancelled for them.
const CancelledByRegistrant = "registrant"

// Registration is the data of booking.event.registered (a seat is taken),
// booking.event.waitlisted (the event was full), booking.event.promoted (a
// waitlisted person got a seat) and booking.event.registration_cancelled.
type Registration struct {
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	RegistrationID uuid.UUID `json:"registration_id"`
	EventID        uuid.UUID `json:"event_id"`
	EventTitle     string    `json:"event_title"`
	StartsAt       time.Time `json:"starts_at"`
	EndsAt         time.Time `json:"ends_at"`
	Location       string    `json:"location"`
	Status         string    `json:"status"`
	// WaitlistPosition is the 1-based place on the waitlist; waitlisted only.
	WaitlistPosition int `json:"waitlist_position,omitempty"`
	// ManageExpires is when the manage link the mailer mints for this
	// record (libs/managelink) stops working. No link or token travels in
	// the payload: events are retained for days and readable through the
	// dead-letter API.
	ManageExpires time.Time `json:"manage_expires,omitzero"`
	// ManageURL is decode-only: events published before ManageExpires
	// existed carried the signed link itself, and the mailer still uses it
	// when ManageExpires is zero. Booking never sets it.
	ManageURL string `json:"manage_url,omitempty"`
	// CancelledBy, Reason, PreviousStatus and CancelledAt are set on
	// registration_cancelled only: CancelledByRegistrant or the admin's
	// email (never shown to the registrant), the admin's reason, what the
	// registration was (confirmed or waitlisted) and when it was cancelled.
	CancelledBy    string    `json:"cancelled_by,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	PreviousStatus string    `json:"previous_status,omitempty"`
	CancelledAt    time.Time `json:"cancelled_at,omitzero"`
}

// EventKey orders the registration's events: its cancellation never
// reaches the registrant before its confirmation or promotion.
func (d Registration) EventKey() string { return RegistrationKey(d.RegistrationID) }

// AlreadyRegistered is the data of booking.event.already_registered:
// someone submitted the registration form with the address of a live
// (confirmed or waitlisted) registration for the event. Nothing was
// stored, and the form was answered as if the address were new, so the
// form tells nobody whether an address is registered (for a bereavement
// circle that is health data); this tells the registrant instead, with
// their manage link. Every field is the existing registration's and none
// is what the form was filled with, so whoever submits it cannot put
// words in the email.
type AlreadyRegistered struct {
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	RegistrationID uuid.UUID `json:"registration_id"`
	EventID        uuid.UUID `json:"event_id"`
	EventTitle     string    `json:"event_title"`
	StartsAt       time.Time `json:"starts_at"`
	EndsAt         time.Time `json:"ends_at"`
	Location       string    `json:"location"`
	// Status is confirmed or waitlisted, with WaitlistPosition (1-based).
	Status           string `json:"status"`
	WaitlistPosition int    `json:"waitlist_position,omitempty"`
	// ManageExpires is when the manage link the mailer mints for this
	// record (libs/managelink) stops working. No link or token travels in
	// the payload: events are retained for days and readable through the
	// dead-letter API.
	ManageExpires time.Time `json:"manage_expires,omitzero"`
	// ManageURL is decode-only: events published before ManageExpires
	// existed carried the signed link itself, and the mailer still uses it
	// when ManageExpires is zero. Booking never sets it.
	ManageURL string `json:"manage_url,omitempty"`
	// AttemptedAt is when the form was submitted again.
	AttemptedAt time.Time `json:"attempted_at"`
}

// EventKey orders the notice with the registration's other events.
func (d AlreadyRegistered) EventKey() string { return RegistrationKey(d.RegistrationID) }

// EventRescheduled is the data of booking.event.rescheduled: an admin
// moved an event or changed its place, told to one live registration
// (confirmed or waitlisted). Every live registration gets one, in the
// transaction of the change.
type EventRescheduled struct {
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	RegistrationID uuid.UUID `json:"registration_id"`
	// Status and WaitlistPosition are the registration's after the change
	// (a raised capacity may have seated it in the same change).
	Status           string `json:"status"`
	WaitlistPosition int    `json:"waitlist_position,omitempty"`
	// ManageExpires and ManageURL: see Registration.
	ManageExpires time.Time `json:"manage_expires,omitzero"`
	ManageURL     string    `json:"manage_url,omitempty"`
	EventID       uuid.UUID `json:"event_id"`
	EventTitle    string    `json:"event_title"`
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

// EventKey is the registration's, not the event's: each notice is about
// one registration and must stay in order with its cancellation.
func (d EventRescheduled) EventKey() string { return RegistrationKey(d.RegistrationID) }

// VolunteerApplied is the data of booking.volunteer.applied.
type VolunteerApplied struct {
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	ApplicationID uuid.UUID `json:"application_id"`
	AppliedAt     time.Time `json:"applied_at"`
}

// EventKey orders the event with the application's other events.
func (d VolunteerApplied) EventKey() string { return VolunteerKey(d.ApplicationID) }

// ContactReceived is the data of booking.contact.received. It never holds
// the message text, so the acknowledgment cannot echo a stranger's words.
type ContactReceived struct {
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	ContactID  uuid.UUID `json:"contact_id"`
	ReceivedAt time.Time `json:"received_at"`
}

// EventKey orders the event with the contact message's other events.
func (d ContactReceived) EventKey() string { return ContactKey(d.ContactID) }

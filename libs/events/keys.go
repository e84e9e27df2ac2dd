package events

import "github.com/google/uuid"

// Keys of the platform's aggregates (Event.Key): "<kind>:<id>". Every
// event about one aggregate carries its key, whichever stream it is on, so
// each consumer applies them in the order they were written (DESIGN §4).
// An event about one registration is the registration's, not its event's:
// the order that matters to a person is that of their own registration.

// SessionKey is the key of a booked session.
func SessionKey(id uuid.UUID) string { return "session:" + id.String() }

// RegistrationKey is the key of one registration for an event.
func RegistrationKey(id uuid.UUID) string { return "registration:" + id.String() }

// CalendarEventKey is the key of an event's (a workshop's) own changes:
// created, updated, image_updated, deleted. Its registrations have keys
// of their own.
func CalendarEventKey(id uuid.UUID) string { return "event:" + id.String() }

// VolunteerKey is the key of a volunteer application.
func VolunteerKey(id uuid.UUID) string { return "volunteer:" + id.String() }

// ContactKey is the key of a contact-form message.
func ContactKey(id uuid.UUID) string { return "contact:" + id.String() }

// JobKey is the key of a bulk job: its request, every chunk's progress,
// the owner's completion and the admin service's completion.
func JobKey(id uuid.UUID) string { return "job:" + id.String() }

// ExportKey is the key of an export.
func ExportKey(id uuid.UUID) string { return "export:" + id.String() }

// AccountKey is the key of an admin account.
func AccountKey(id uuid.UUID) string { return "account:" + id.String() }

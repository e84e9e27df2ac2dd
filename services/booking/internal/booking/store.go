package booking

import (
	"context"

	"github.com/google/uuid"
)

// Store keeps booking's data. Every method that changes data writes the
// given messages to the outbox in the same transaction, and every Update
// method locks the row, calls fn with it and saves it with fn's messages
// when fn returns nil, so rules run on the current state.
type Store interface {
	// BookSession stores a new session. With an idempotency key it first
	// looks the key's digest up: one already used for the same request
	// hash returns that session with replayed true and writes nothing; for
	// another hash ErrIdempotencyMismatch.
	BookSession(ctx context.Context, x Session, key Idempotency, msgs []Message) (stored Session, replayed bool, err error)
	Session(ctx context.Context, id uuid.UUID) (Session, error)
	Sessions(ctx context.Context, f Filter) ([]Session, error)
	UpdateSession(ctx context.Context, id uuid.UUID, fn func(*Session) ([]Message, error)) (Session, error)

	CreateEvent(ctx context.Context, e Event, msgs []Message) error
	Event(ctx context.Context, id uuid.UUID) (Event, error)
	// Events lists events in start order; f.From defaults to no bound.
	Events(ctx context.Context, f Filter) ([]Event, error)
	// UpdateEvent locks the event, recounts its waitlist and calls fn with
	// it, the event's Waitlist and its Registrants; it saves the event's
	// details, times and capacity, and every registration fn changed
	// through the Waitlist, recounting the seats when any changed.
	UpdateEvent(ctx context.Context, id uuid.UUID, fn func(e *Event, w Waitlist, regs Registrants) ([]Message, error)) (Event, error)
	// Register locks the event, then calls decide with it and the number
	// of people waitlisted; it stores the registration decide returns with
	// its messages and counts its seat when it is confirmed. When the
	// address (lower-cased) already holds a live registration for the
	// event, it stores nothing and takes no seat: it calls repeat with
	// the event and that registration (with its waitlist position) and
	// writes repeat's messages instead, and existed is true. Both ways run
	// the same statements in the same order, so neither answers sooner.
	Register(ctx context.Context, eventID uuid.UUID, decide func(e Event, waiting int) (Registration, []Message, error),
		repeat func(e Event, existing Registration) []Message) (r Registration, existed bool, err error)
	// Registration returns a registration (with its waitlist position) and
	// its event.
	Registration(ctx context.Context, id uuid.UUID) (Registration, Event, error)
	// CancelRegistration locks the registration's event (first, as
	// Register does, so the two never deadlock), recounts its waitlist,
	// locks the registration and calls fn with them and the event's
	// Waitlist, which the other waitlisted are taken from; the store saves
	// the registration and every one fn changed, and recounts the seats.
	CancelRegistration(ctx context.Context, id uuid.UUID, fn func(e *Event, r *Registration, w Waitlist) ([]Message, error)) (Registration, error)
	Registrations(ctx context.Context, eventID uuid.UUID, f Filter) ([]Registration, error)

	AddVolunteer(ctx context.Context, v Volunteer, msgs []Message) error
	Volunteers(ctx context.Context, f Filter) ([]Volunteer, error)
	UpdateVolunteer(ctx context.Context, id uuid.UUID, fn func(*Volunteer) ([]Message, error)) (Volunteer, error)

	AddContact(ctx context.Context, c Contact, msgs []Message) error
	Contacts(ctx context.Context, f Filter) ([]Contact, error)
	UpdateContact(ctx context.Context, id uuid.UUID, fn func(*Contact) ([]Message, error)) (Contact, error)

	// Export streams every row of entity that f selects (Limit and After
	// ignored), calling fn with the header first and then each row.
	Export(ctx context.Context, entity string, f Filter, fn func(record []string) error) error
	// Emit writes messages to the outbox on their own.
	Emit(ctx context.Context, msgs []Message) error

	JobStore
}

// Waitlist hands the function of an update, inside its transaction, the
// first waitlisted registrations of the locked event, locked too, in
// waitlist order. The store saves the status of each one it handed out.
type Waitlist interface {
	// First returns up to n of them; it may be called once.
	First(ctx context.Context, n int) ([]*Registration, error)
}

// Registrants hands the function of an event update, inside its
// transaction and under the event's lock, the people to tell of a new
// time or place.
type Registrants interface {
	// Live returns the event's confirmed and waitlisted registrations in
	// order of registration (the waitlist's order) as stored before the
	// update, without their waitlist positions.
	Live(ctx context.Context) ([]Registration, error)
}

// Idempotency is what the store keeps of a booking's Idempotency-Key:
// the digest of the key in its scope (IdempotencyKey.Digest), never the
// key itself, and the hash of the request it came with; a nil KeyDigest
// means none.
type Idempotency struct {
	KeyDigest   []byte
	RequestHash []byte
}

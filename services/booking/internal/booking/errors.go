package booking

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors of the booking domain. The transport maps each to one
// status; the store wraps them with what it was doing.
var (
	// ErrNotFound: no such session, event, registration, volunteer
	// application or contact message.
	ErrNotFound = errors.New("not found")
	// ErrIllegalTransition: the status machine does not allow the move.
	ErrIllegalTransition = errors.New("illegal status change")
	// ErrIdempotencyMismatch: an Idempotency-Key was reused with a
	// different request.
	ErrIdempotencyMismatch = errors.New("the Idempotency-Key was used for a different request")
	// ErrTooLate: the cancellation falls inside the notice window, or the
	// event has begun.
	ErrTooLate = errors.New("too late to cancel")
	// ErrBadLink: a manage token is forged, for another record or expired.
	ErrBadLink = errors.New("invalid or expired manage link")
	// ErrEventPast: registration for an event that has begun.
	ErrEventPast = errors.New("the event has already started")
	// ErrEventEnded: a change to an event that is over.
	ErrEventEnded = errors.New("the event has ended and can no longer be changed")
	// ErrCapacityBelowConfirmed: a capacity below the seats already
	// confirmed; see CapacityError.
	ErrCapacityBelowConfirmed = errors.New("capacity below the seats already confirmed")
)

// CapacityError is an ErrCapacityBelowConfirmed that says by how much:
// lowering a capacity never cancels anyone, so an admin cancels
// registrations first.
type CapacityError struct {
	Capacity, Confirmed int
}

// Error says what was asked and what the least acceptable capacity is.
func (e *CapacityError) Error() string {
	return fmt.Sprintf("capacity %d is below the %d seats already confirmed: cancel registrations first, or keep the capacity at %d or more",
		e.Capacity, e.Confirmed, e.Confirmed)
}

// Is makes errors.Is(err, ErrCapacityBelowConfirmed) hold.
func (e *CapacityError) Is(target error) bool { return target == ErrCapacityBelowConfirmed }

// ValidationError lists what is wrong with a request, by field.
type ValidationError struct {
	Fields map[string]string
}

// Error lists the fields and what is wrong with each, in field order.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for f, msg := range e.Fields {
		parts = append(parts, f+": "+msg)
	}
	sort.Strings(parts)
	return "invalid request: " + strings.Join(parts, "; ")
}

// invalid returns a *ValidationError for fields, or nil when it is empty.
func invalid(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: fields}
}

// Package booking is the booking domain: therapy sessions and their status
// machine, events with capacity and a waitlist, volunteer applications,
// contact messages, bulk jobs and the events and audit records that
// describe every change. It knows nothing of HTTP, SQL or NATS; the store
// and the transport depend on it, not the other way round.
package booking

import (
	"crypto/sha256"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SessionType is the kind of therapy session booked.
type SessionType string

// The session types the seed offers.
const (
	Individual SessionType = "individual"
	Couple     SessionType = "couple"
	Family     SessionType = "family"
	Group      SessionType = "group"
)

// Status is where a booking stands.
type Status string

// The statuses of DESIGN §3.
const (
	Pending   Status = "pending"
	Confirmed Status = "confirmed"
	Completed Status = "completed"
	Cancelled Status = "cancelled"
)

// Session is one booked therapy session.
type Session struct {
	ID            uuid.UUID
	Email         string
	Name          string
	Phone         string
	SessionType   SessionType
	PreferredDate time.Time // a calendar date, at UTC midnight
	Message       string
	Status        Status
	// StatusReason says why the status last changed; empty at booking.
	StatusReason string
	// StatusActor is who last changed the status: an admin's email, or
	// "booker" for a cancellation through the manage link.
	StatusActor string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// BookRequest is what a person submits to book a session.
type BookRequest struct {
	Email         string
	Name          string
	Phone         string
	SessionType   string
	PreferredDate string // YYYY-MM-DD
	Message       string
}

// Hash identifies the request's content, so a reused Idempotency-Key can
// tell a repeat from a different request. Fields are separated by a byte
// that valid input cannot hold.
func (r BookRequest) Hash() []byte {
	h := sha256.New()
	for _, f := range []string{r.Email, r.Name, r.Phone, r.SessionType, r.PreferredDate, r.Message} {
		h.Write([]byte(strings.TrimSpace(f)))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// maxAdvance is how far ahead a session may be booked.
const maxAdvance = 2 * 365 * 24 * time.Hour

// NewSession validates req and returns the pending session it describes.
// The preferred date may not be before today (UTC) nor beyond two years.
func NewSession(req BookRequest, now time.Time) (Session, error) {
	fields := map[string]string{}
	s := Session{Status: Pending, CreatedAt: now, UpdatedAt: now}
	s.Email = checkEmail(fields, req.Email)
	s.Name = checkText(fields, "name", req.Name, maxName, true)
	s.Phone = checkPhone(fields, req.Phone, true)

	s.SessionType = SessionType(strings.TrimSpace(req.SessionType))
	switch s.SessionType {
	case Individual, Couple, Family, Group:
	case "":
		fields["session_type"] = "is required"
	default:
		fields["session_type"] = "must be one of individual, couple, family, group"
	}

	today := now.UTC().Truncate(24 * time.Hour)
	date := strings.TrimSpace(req.PreferredDate)
	switch d, err := time.Parse(time.DateOnly, date); {
	case date == "":
		fields["preferred_date"] = "is required"
	case err != nil:
		fields["preferred_date"] = "must be a calendar date as YYYY-MM-DD"
	case d.Before(today):
		fields["preferred_date"] = "must not be in the past"
	case d.After(today.Add(maxAdvance)):
		fields["preferred_date"] = "must be within two years"
	default:
		s.PreferredDate = d
	}
	s.Message = checkText(fields, "message", req.Message, maxMessage, false)

	if err := invalid(fields); err != nil {
		return Session{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Session{}, err
	}
	s.ID = id
	return s, nil
}

// ParseStatus checks a session status named by a client.
func ParseStatus(s string) (Status, bool) {
	switch st := Status(s); st {
	case Pending, Confirmed, Completed, Cancelled:
		return st, true
	}
	return "", false
}

// CanMove reports whether the status machine of DESIGN §3 allows from →
// to: pending → confirmed → completed, and pending or confirmed →
// cancelled. Staying put is not a move.
func CanMove(from, to Status) bool {
	switch {
	case from == Pending && to == Confirmed, from == Confirmed && to == Completed:
		return true
	case (from == Pending || from == Confirmed) && to == Cancelled:
		return true
	}
	return false
}

// maxReason bounds the reason given for a status change.
const maxReason = 1000

// move changes s's status when the machine allows it, recording why and by
// whom.
func (s *Session) move(to Status, reason, actor string, now time.Time) error {
	if !CanMove(s.Status, to) {
		return &TransitionError{From: s.Status, To: to}
	}
	s.Status, s.StatusReason, s.StatusActor, s.UpdatedAt = to, reason, actor, now
	return nil
}

// TransitionError is an ErrIllegalTransition that says which move.
type TransitionError struct {
	From, To Status
}

// Error says which move was refused.
func (e *TransitionError) Error() string {
	return "a session cannot move from " + string(e.From) + " to " + string(e.To)
}

// Is makes errors.Is(err, ErrIllegalTransition) hold.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// Package booking is the booking domain: therapy sessions, their status
// machine and the events that describe their changes. It knows nothing of
// HTTP, SQL or NATS; the store and the transport depend on it, not the
// other way round.
package booking

import (
	"context"
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	CreatedAt     time.Time
	UpdatedAt     time.Time
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

// Limits on the booking form, in characters.
const (
	maxEmail   = 254
	maxName    = 200
	maxPhone   = 32
	maxMessage = 5000
	// How far ahead a session may be booked.
	maxAdvance = 2 * 365 * 24 * time.Hour
)

// ErrNotFound is returned for a session that does not exist.
var ErrNotFound = errors.New("session not found")

// ValidationError lists what is wrong with a request, by field.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for f, msg := range e.Fields {
		parts = append(parts, f+": "+msg)
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// NewSession validates req and returns the pending session it describes.
// today is the current calendar date in UTC; the preferred date may not be
// before it.
func NewSession(req BookRequest, now time.Time) (Session, error) {
	fields := map[string]string{}
	s := Session{Status: Pending, CreatedAt: now, UpdatedAt: now}

	s.Email = strings.TrimSpace(req.Email)
	switch addr, err := mail.ParseAddress(s.Email); {
	case s.Email == "":
		fields["email"] = "is required"
	case utf8.RuneCountInString(s.Email) > maxEmail:
		fields["email"] = "must be at most 254 characters"
	case err != nil || addr.Address != s.Email || !strings.Contains(addr.Address[strings.LastIndexByte(addr.Address, '@'):], "."):
		fields["email"] = "must be a single valid email address, like name@example.org"
	}

	s.Name = strings.TrimSpace(req.Name)
	checkText(fields, "name", s.Name, maxName, true)

	s.Phone = strings.TrimSpace(req.Phone)
	switch {
	case s.Phone == "":
		fields["phone"] = "is required"
	case len(s.Phone) > maxPhone || !validPhone(s.Phone):
		fields["phone"] = "must be 7 to 15 digits, optionally with a leading + and spaces, dashes, dots or parentheses"
	}

	s.SessionType = SessionType(strings.TrimSpace(req.SessionType))
	switch s.SessionType {
	case Individual, Couple, Family, Group:
	case "":
		fields["session_type"] = "is required"
	default:
		fields["session_type"] = "must be one of individual, couple, family, group"
	}

	today := now.UTC().Truncate(24 * time.Hour)
	switch d, err := time.Parse(time.DateOnly, strings.TrimSpace(req.PreferredDate)); {
	case strings.TrimSpace(req.PreferredDate) == "":
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

	s.Message = strings.TrimSpace(req.Message)
	checkText(fields, "message", s.Message, maxMessage, false)

	if len(fields) > 0 {
		return Session{}, &ValidationError{Fields: fields}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Session{}, err
	}
	s.ID = id
	return s, nil
}

// checkText enforces length and refuses control characters other than
// newlines and tabs (which only free text may hold).
func checkText(fields map[string]string, name, v string, max int, required bool) {
	switch {
	case v == "" && required:
		fields[name] = "is required"
	case !utf8.ValidString(v):
		fields[name] = "must be valid UTF-8"
	case utf8.RuneCountInString(v) > max:
		fields[name] = "must be at most " + strconv.Itoa(max) + " characters"
	default:
		for _, r := range v {
			if unicode.IsControl(r) && !(max > maxName && (r == '\n' || r == '\t' || r == '\r')) {
				fields[name] = "must not contain control characters"
				return
			}
		}
	}
}

func validPhone(p string) bool {
	digits := 0
	for i, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

// Store keeps sessions. Book stores a new session together with the event
// that announces it, atomically.
type Store interface {
	Book(ctx context.Context, s Session, booked SessionBooked) error
}

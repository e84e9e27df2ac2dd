package booking

import (
	"time"

	"github.com/google/uuid"
)

// Source names this service in event envelopes.
const Source = "booking"

// Event types (and subjects) booking publishes; DESIGN §4 is the catalog.
const (
	TypeSessionBooked = "booking.session.booked"
)

// SessionBooked is the data of booking.session.booked: everything the
// mailer needs for the confirmation, so it never reads booking's tables.
type SessionBooked struct {
	SessionID     uuid.UUID `json:"session_id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	SessionType   string    `json:"session_type"`
	PreferredDate string    `json:"preferred_date"`
	Status        string    `json:"status"`
	BookedAt      time.Time `json:"booked_at"`
}

// Booked describes s as a booking.session.booked event.
func Booked(s Session) SessionBooked {
	return SessionBooked{
		SessionID:     s.ID,
		Email:         s.Email,
		Name:          s.Name,
		SessionType:   string(s.SessionType),
		PreferredDate: s.PreferredDate.Format(time.DateOnly),
		Status:        string(s.Status),
		BookedAt:      s.CreatedAt,
	}
}

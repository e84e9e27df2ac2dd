package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const insertSession = `
INSERT INTO sessions (id, email, name, phone, session_type, preferred_date, message, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// Book stores a new session and its booking.session.booked event atomically.
func (s *Store) Book(ctx context.Context, x booking.Session, booked booking.SessionBooked) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertSession, x.ID, x.Email, x.Name, x.Phone, string(x.SessionType),
			x.PreferredDate, x.Message, string(x.Status), x.CreatedAt, x.UpdatedAt); err != nil {
			return fmt.Errorf("insert session %s: %w", x.ID, err)
		}
		return emit(ctx, tx, booking.TypeSessionBooked, booked)
	})
}

package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const regColumns = `id, event_id, email, name, phone, status, created_at, updated_at`

// regPosition is a waitlisted registration's 1-based place, 0 otherwise.
const regPosition = `CASE WHEN status = 'waitlisted' THEN (SELECT count(*) FROM registrations w
	WHERE w.event_id = registrations.event_id AND w.status = 'waitlisted' AND w.seq <= registrations.seq) ELSE 0 END`

const (
	insertReg = `
INSERT INTO registrations (id, event_id, email, name, phone, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	takeSeat   = `UPDATE events SET confirmed = confirmed + 1 WHERE id = $1`
	selectReg  = `SELECT ` + regColumns + `, ` + regPosition + ` FROM registrations WHERE id = $1`
	regEvent   = `SELECT event_id FROM registrations WHERE id = $1`
	lockReg    = `SELECT ` + regColumns + `, 0 FROM registrations WHERE id = $1 FOR UPDATE`
	lockFirstW = `SELECT ` + regColumns + `, 1 FROM registrations
WHERE event_id = $1 AND status = 'waitlisted' AND id <> $2 ORDER BY seq LIMIT 1 FOR UPDATE`
	saveReg      = `UPDATE registrations SET status = $2, updated_at = $3 WHERE id = $1`
	recountSeats = `
UPDATE events SET confirmed = (SELECT count(*) FROM registrations r WHERE r.event_id = $1 AND r.status = 'confirmed')
WHERE id = $1`
	listRegs = `SELECT ` + regColumns + `, ` + regPosition + ` FROM registrations`
)

func scanReg(row pgx.Row) (booking.Registration, error) {
	var r booking.Registration
	var status string
	err := row.Scan(&r.ID, &r.EventID, &r.Email, &r.Name, &r.Phone, &status, &r.CreatedAt, &r.UpdatedAt, &r.WaitlistPosition)
	r.Status = booking.RegistrationStatus(status)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, notFound(err)
}

// Register decides and stores a registration under the event's row lock.
func (s *Store) Register(ctx context.Context, eventID uuid.UUID, decide func(booking.Event, int) (booking.Registration, []booking.Message, error)) (booking.Registration, error) {
	var out booking.Registration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := scanEvent(tx.QueryRow(ctx, lockEvent, eventID))
		if err != nil {
			return err
		}
		// A new statement, so a new snapshot: it sees every registration
		// committed before we got the lock.
		if err := tx.QueryRow(ctx, countWaiting, eventID).Scan(&e.Waitlisted); err != nil {
			return fmt.Errorf("count waitlist of event %s: %w", eventID, err)
		}
		r, msgs, err := decide(e, e.Waitlisted)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertReg, r.ID, r.EventID, r.Email, r.Name, r.Phone, string(r.Status), r.CreatedAt, r.UpdatedAt); err != nil {
			if isUniqueViolation(err, "registrations_one_per_email") {
				return booking.ErrAlreadyRegistered
			}
			return fmt.Errorf("insert registration: %w", err)
		}
		if r.Status == booking.RegConfirmed {
			if _, err := tx.Exec(ctx, takeSeat, e.ID); err != nil {
				return fmt.Errorf("take a seat at event %s: %w", e.ID, err)
			}
		}
		out = r
		return emit(ctx, tx, msgs)
	})
	return out, err
}

// Registration returns a registration and its event.
func (s *Store) Registration(ctx context.Context, id uuid.UUID) (booking.Registration, booking.Event, error) {
	r, err := scanReg(s.pool.QueryRow(ctx, selectReg, id))
	if err != nil {
		return booking.Registration{}, booking.Event{}, err
	}
	e, err := s.Event(ctx, r.EventID)
	return r, e, err
}

// CancelRegistration applies fn to a registration and the first person
// waiting, under the event's lock, and recounts the seats.
func (s *Store) CancelRegistration(ctx context.Context, id uuid.UUID, fn func(e booking.Event, r, next *booking.Registration) ([]booking.Message, error)) (booking.Registration, error) {
	var out booking.Registration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var eventID uuid.UUID
		if err := tx.QueryRow(ctx, regEvent, id).Scan(&eventID); err != nil {
			return notFound(err)
		}
		// Event first, as Register does, so the two never deadlock.
		e, err := scanEvent(tx.QueryRow(ctx, lockEvent, eventID))
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, countWaiting, eventID).Scan(&e.Waitlisted); err != nil {
			return fmt.Errorf("count waitlist of event %s: %w", eventID, err)
		}
		r, err := scanReg(tx.QueryRow(ctx, lockReg, id))
		if err != nil {
			return err
		}
		var next *booking.Registration
		if n, err := scanReg(tx.QueryRow(ctx, lockFirstW, eventID, id)); err == nil {
			next = &n
		} else if !errors.Is(err, booking.ErrNotFound) {
			return fmt.Errorf("find the first waitlisted of event %s: %w", eventID, err)
		}
		var nextBefore booking.RegistrationStatus
		if next != nil {
			nextBefore = next.Status
		}
		msgs, err := fn(e, &r, next)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, saveReg, r.ID, string(r.Status), r.UpdatedAt); err != nil {
			return fmt.Errorf("save registration %s: %w", r.ID, err)
		}
		if next != nil && next.Status != nextBefore {
			if _, err := tx.Exec(ctx, saveReg, next.ID, string(next.Status), next.UpdatedAt); err != nil {
				return fmt.Errorf("save registration %s: %w", next.ID, err)
			}
		}
		if _, err := tx.Exec(ctx, recountSeats, eventID); err != nil {
			return fmt.Errorf("recount seats of event %s: %w", eventID, err)
		}
		out = r
		return emit(ctx, tx, msgs)
	})
	return out, err
}

// Registrations lists an event's registrations in order of registration.
func (s *Store) Registrations(ctx context.Context, eventID uuid.UUID, f booking.Filter) ([]booking.Registration, error) {
	q := query{}
	q.where("event_id = " + q.arg(eventID))
	tail := listing{timeCol: "created_at"}.build(&q, f, true)
	rows, err := s.pool.Query(ctx, listRegs+tail, q.args...)
	if err != nil {
		return nil, fmt.Errorf("query registrations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Registration, error) { return scanReg(r) })
}

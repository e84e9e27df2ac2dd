package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const regColumns = `id, event_id, email, name, phone, status, cancelled_by, cancel_reason, created_at, updated_at`

// regPosition is a waitlisted registration's 1-based place, 0 otherwise.
const regPosition = `CASE WHEN status = 'waitlisted' THEN (SELECT count(*) FROM registrations w
	WHERE w.event_id = registrations.event_id AND w.status = 'waitlisted' AND w.seq <= registrations.seq) ELSE 0 END`

const (
	// insertReg inserts a registration unless its address holds a live
	// one for the event already, and then returns that one instead (the
	// outer SELECT sees the table as before the INSERT, so it finds a
	// row exactly when the INSERT did nothing). One statement either way:
	// an address already registered is not answered sooner or later
	// than a new one.
	insertReg = `
WITH inserted AS (
	INSERT INTO registrations (id, event_id, email, name, phone, status, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (event_id, lower(email)) WHERE status <> 'cancelled' DO NOTHING
	RETURNING id)
SELECT ` + regColumns + `, ` + regPosition + ` FROM registrations
WHERE event_id = $2 AND lower(email) = lower($3) AND status <> 'cancelled' AND NOT EXISTS (SELECT FROM inserted)`
	// takeSeats adds $2 (1 or 0) seats: run for every registration, so
	// a waitlisted or repeated one costs what a confirmed one does.
	takeSeats = `UPDATE events SET confirmed = confirmed + $2 WHERE id = $1`
	selectReg = `SELECT ` + regColumns + `, ` + regPosition + ` FROM registrations WHERE id = $1`
	regEvent  = `SELECT event_id FROM registrations WHERE id = $1`
	lockReg   = `SELECT ` + regColumns + `, 0 FROM registrations WHERE id = $1 FOR UPDATE`
	// lockWaitlist takes the first $3 waitlisted of event $1 but $2, in
	// waitlist order, through the partial index registrations_waitlist.
	lockWaitlist = `SELECT ` + regColumns + `, 0 FROM registrations
WHERE event_id = $1 AND status = 'waitlisted' AND id <> $2 ORDER BY seq LIMIT $3 FOR UPDATE`
	saveReg      = `UPDATE registrations SET status = $2, cancelled_by = $3, cancel_reason = $4, updated_at = $5 WHERE id = $1`
	recountSeats = `
UPDATE events SET confirmed = (SELECT count(*) FROM registrations r WHERE r.event_id = $1 AND r.status = 'confirmed')
WHERE id = $1`
	listRegs = `SELECT ` + regColumns + `, ` + regPosition + ` FROM registrations`
	// liveRegs lists an event's confirmed and waitlisted registrations in
	// seq order, without positions: the caller counts them in one pass,
	// where regPosition would count the waitlist again for every row.
	liveRegs = `SELECT ` + regColumns + `, 0 FROM registrations
WHERE event_id = $1 AND status IN ('confirmed', 'waitlisted') ORDER BY seq`
)

func scanReg(row pgx.Row) (booking.Registration, error) {
	var r booking.Registration
	var status string
	err := row.Scan(&r.ID, &r.EventID, &r.Email, &r.Name, &r.Phone, &status, &r.CancelledBy, &r.CancelReason,
		&r.CreatedAt, &r.UpdatedAt, &r.WaitlistPosition)
	r.Status = booking.RegistrationStatus(status)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, notFound(err)
}

// Register decides and stores a registration under the event's row lock,
// or, for an address registered already, writes repeat's messages.
func (s *Store) Register(ctx context.Context, eventID uuid.UUID, decide func(booking.Event, int) (booking.Registration, []booking.Message, error),
	repeat func(booking.Event, booking.Registration) []booking.Message) (booking.Registration, bool, error) {
	var (
		out     booking.Registration
		existed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := lockEventTx(ctx, tx, eventID)
		if err != nil {
			return err
		}
		r, msgs, err := decide(e, e.Waitlisted)
		if err != nil {
			return err
		}
		existing, err := scanReg(tx.QueryRow(ctx, insertReg, r.ID, r.EventID, r.Email, r.Name, r.Phone, string(r.Status), r.CreatedAt, r.UpdatedAt))
		switch {
		case err == nil:
			existed, msgs = true, repeat(e, existing)
		case !errors.Is(err, booking.ErrNotFound):
			return fmt.Errorf("insert registration: %w", err)
		}
		seats := 0
		if !existed && r.Status == booking.RegConfirmed {
			seats = 1
		}
		if _, err := tx.Exec(ctx, takeSeats, e.ID, seats); err != nil {
			return fmt.Errorf("take a seat at event %s: %w", e.ID, err)
		}
		out = r
		return emit(ctx, tx, msgs)
	})
	return out, existed, err
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

// CancelRegistration applies fn to a registration and the people waiting,
// under the event's lock, and recounts the seats.
func (s *Store) CancelRegistration(ctx context.Context, id uuid.UUID, fn func(*booking.Event, *booking.Registration, booking.Waitlist) ([]booking.Message, error)) (booking.Registration, error) {
	var out booking.Registration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var eventID uuid.UUID
		if err := tx.QueryRow(ctx, regEvent, id).Scan(&eventID); err != nil {
			return notFound(err)
		}
		// Event first, as Register does, so the two never deadlock.
		e, err := lockEventTx(ctx, tx, eventID)
		if err != nil {
			return err
		}
		r, err := scanReg(tx.QueryRow(ctx, lockReg, id))
		if err != nil {
			return err
		}
		w := &waitlist{tx: tx, eventID: eventID, except: id}
		msgs, err := fn(&e, &r, w)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, saveReg, r.ID, string(r.Status), r.CancelledBy, r.CancelReason, r.UpdatedAt); err != nil {
			return fmt.Errorf("save registration %s: %w", r.ID, err)
		}
		if _, err := w.save(ctx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, recountSeats, eventID); err != nil {
			return fmt.Errorf("recount seats of event %s: %w", eventID, err)
		}
		out = r
		return emit(ctx, tx, msgs)
	})
	return out, err
}

// waitlist is booking.Waitlist within a transaction that holds the event's
// lock. It remembers what it handed out, so save writes what the domain
// changed.
type waitlist struct {
	tx      pgx.Tx
	eventID uuid.UUID
	except  uuid.UUID // a registration being cancelled, still waitlisted in the table
	read    bool
	regs    []*booking.Registration
	before  []booking.RegistrationStatus
}

var errWaitlistReread = errors.New("the waitlist may be read once per change")

// First locks and returns up to n of the first waitlisted registrations.
func (w *waitlist) First(ctx context.Context, n int) ([]*booking.Registration, error) {
	if w.read {
		return nil, errWaitlistReread
	}
	w.read = true
	rows, err := w.tx.Query(ctx, lockWaitlist, w.eventID, w.except, n)
	if err != nil {
		return nil, fmt.Errorf("lock the waitlist of event %s: %w", w.eventID, err)
	}
	regs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Registration, error) { return scanReg(r) })
	if err != nil {
		return nil, fmt.Errorf("lock the waitlist of event %s: %w", w.eventID, err)
	}
	for i := range regs {
		w.regs = append(w.regs, &regs[i])
		w.before = append(w.before, regs[i].Status)
	}
	return w.regs, nil
}

// save writes the registrations whose status changed and reports whether
// any did.
func (w *waitlist) save(ctx context.Context) (changed bool, err error) {
	for i, r := range w.regs {
		if r.Status == w.before[i] {
			continue
		}
		changed = true
		if _, err := w.tx.Exec(ctx, saveReg, r.ID, string(r.Status), r.CancelledBy, r.CancelReason, r.UpdatedAt); err != nil {
			return changed, fmt.Errorf("save registration %s: %w", r.ID, err)
		}
	}
	return changed, nil
}

// registrants is booking.Registrants within a transaction that holds the
// event's lock, so no registration changes under it.
type registrants struct {
	tx      pgx.Tx
	eventID uuid.UUID
}

// Live returns the event's confirmed and waitlisted registrations in seq
// order.
func (r registrants) Live(ctx context.Context) ([]booking.Registration, error) {
	rows, err := r.tx.Query(ctx, liveRegs, r.eventID)
	if err != nil {
		return nil, fmt.Errorf("query the registrations of event %s: %w", r.eventID, err)
	}
	regs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Registration, error) { return scanReg(r) })
	if err != nil {
		return nil, fmt.Errorf("query the registrations of event %s: %w", r.eventID, err)
	}
	return regs, nil
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

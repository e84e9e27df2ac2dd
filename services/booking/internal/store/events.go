package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const eventColumns = `id, title, description, location, starts_at, ends_at, capacity, confirmed,
	image_type, image_size, created_at, updated_at`

// waitingCount counts an event's waitlist through its partial index.
const waitingCount = `(SELECT count(*) FROM registrations r WHERE r.event_id = events.id AND r.status = 'waitlisted')`

const (
	insertEvent = `
INSERT INTO events (` + eventColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	selectEvent = `SELECT ` + eventColumns + `, ` + waitingCount + ` FROM events WHERE id = $1`
	// FOR UPDATE locks only the events row: every registration decision
	// for the event queues here, which is what keeps capacity exact. Its
	// waitlist count is stale when the lock had to be waited for (the
	// subquery keeps the statement's first snapshot); callers that need
	// it recount with countWaiting after taking the lock.
	lockEvent    = selectEvent + ` FOR UPDATE OF events`
	countWaiting = `SELECT count(*) FROM registrations WHERE event_id = $1 AND status = 'waitlisted'`
	listEvents   = `SELECT ` + eventColumns + `, ` + waitingCount + ` FROM events`
	saveEvent    = `
UPDATE events SET title = $2, description = $3, location = $4, starts_at = $5, ends_at = $6, capacity = $7,
	image_type = $8, image_size = $9, updated_at = $10
WHERE id = $1`
)

func scanEvent(row pgx.Row) (booking.Event, error) {
	var e booking.Event
	err := row.Scan(&e.ID, &e.Title, &e.Description, &e.Location, &e.StartsAt, &e.EndsAt, &e.Capacity,
		&e.Confirmed, &e.ImageType, &e.ImageSize, &e.CreatedAt, &e.UpdatedAt, &e.Waitlisted)
	e.StartsAt, e.EndsAt = e.StartsAt.UTC(), e.EndsAt.UTC()
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, notFound(err)
}

// CreateEvent stores a new event and its events.
func (s *Store) CreateEvent(ctx context.Context, e booking.Event, msgs []booking.Message) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertEvent, e.ID, e.Title, e.Description, e.Location, e.StartsAt, e.EndsAt,
			e.Capacity, e.Confirmed, e.ImageType, e.ImageSize, e.CreatedAt, e.UpdatedAt); err != nil {
			return fmt.Errorf("insert event %s: %w", e.ID, err)
		}
		return emit(ctx, tx, msgs)
	})
}

// Event returns one event with its seat counts.
func (s *Store) Event(ctx context.Context, id uuid.UUID) (booking.Event, error) {
	return scanEvent(s.pool.QueryRow(ctx, selectEvent, id))
}

// Events lists events that have not ended by f.From, in start order.
func (s *Store) Events(ctx context.Context, f booking.Filter) ([]booking.Event, error) {
	var q query
	tail := listing{timeCol: "starts_at", fromCol: "ends_at"}.build(&q, f, true)
	rows, err := s.pool.Query(ctx, listEvents+tail, q.args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Event, error) { return scanEvent(r) })
}

// lockEventTx locks an event's row for the rest of tx and recounts its
// waitlist in a new statement, so a new snapshot: it sees every
// registration committed before we got the lock.
func lockEventTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (booking.Event, error) {
	e, err := scanEvent(tx.QueryRow(ctx, lockEvent, id))
	if err != nil {
		return booking.Event{}, err
	}
	if err := tx.QueryRow(ctx, countWaiting, id).Scan(&e.Waitlisted); err != nil {
		return booking.Event{}, fmt.Errorf("count waitlist of event %s: %w", id, err)
	}
	return e, nil
}

// UpdateEvent changes an event under its row lock; the registrations fn
// takes off the waitlist are saved with it.
func (s *Store) UpdateEvent(ctx context.Context, id uuid.UUID, fn func(*booking.Event, booking.Waitlist, booking.Registrants) ([]booking.Message, error)) (booking.Event, error) {
	var out booking.Event
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := lockEventTx(ctx, tx, id)
		if err != nil {
			return err
		}
		w := &waitlist{tx: tx, eventID: id}
		msgs, err := fn(&e, w, registrants{tx: tx, eventID: id})
		if err != nil {
			return err
		}
		// The event first: a lowered capacity is checked against the seats
		// counted so far, a raised one makes room for the promotions.
		if _, err := tx.Exec(ctx, saveEvent, e.ID, e.Title, e.Description, e.Location, e.StartsAt, e.EndsAt,
			e.Capacity, e.ImageType, e.ImageSize, e.UpdatedAt); err != nil {
			return fmt.Errorf("save event %s: %w", e.ID, err)
		}
		promoted, err := w.save(ctx)
		if err != nil {
			return err
		}
		if promoted {
			if _, err := tx.Exec(ctx, recountSeats, e.ID); err != nil {
				return fmt.Errorf("recount seats of event %s: %w", e.ID, err)
			}
		}
		out = e
		return emit(ctx, tx, msgs)
	})
	return out, err
}

package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const volunteerColumns = `id, email, name, phone, interests, availability, message, status, created_at, updated_at`

const (
	insertVolunteer = `INSERT INTO volunteers (` + volunteerColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	lockVolunteer   = `SELECT ` + volunteerColumns + `, status_reason FROM volunteers WHERE id = $1 FOR UPDATE`
	listVolunteers  = `SELECT ` + volunteerColumns + `, status_reason FROM volunteers`
	saveVolunteer   = `UPDATE volunteers SET status = $2, updated_at = $3, status_reason = $4 WHERE id = $1`
)

func scanVolunteer(row pgx.Row) (booking.Volunteer, error) {
	var v booking.Volunteer
	err := row.Scan(&v.ID, &v.Email, &v.Name, &v.Phone, &v.Interests, &v.Availability, &v.Message, &v.Status,
		&v.CreatedAt, &v.UpdatedAt, &v.StatusReason)
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return v, notFound(err)
}

// AddVolunteer stores an application and its events.
func (s *Store) AddVolunteer(ctx context.Context, v booking.Volunteer, msgs []booking.Message) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertVolunteer, v.ID, v.Email, v.Name, v.Phone, v.Interests, v.Availability,
			v.Message, v.Status, v.CreatedAt, v.UpdatedAt); err != nil {
			return fmt.Errorf("insert volunteer application %s: %w", v.ID, err)
		}
		return emit(ctx, tx, msgs)
	})
}

// Volunteers lists applications newest first.
func (s *Store) Volunteers(ctx context.Context, f booking.Filter) ([]booking.Volunteer, error) {
	var q query
	rows, err := s.pool.Query(ctx, listVolunteers+listing{timeCol: "created_at", desc: true}.build(&q, f, true), q.args...)
	if err != nil {
		return nil, fmt.Errorf("query volunteers: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Volunteer, error) { return scanVolunteer(r) })
}

// UpdateVolunteer changes an application under its row lock.
func (s *Store) UpdateVolunteer(ctx context.Context, id uuid.UUID, fn func(*booking.Volunteer) ([]booking.Message, error)) (booking.Volunteer, error) {
	var out booking.Volunteer
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = updateVolunteer(ctx, tx, id, fn)
		return err
	})
	return out, err
}

func updateVolunteer(ctx context.Context, tx querier, id uuid.UUID, fn func(*booking.Volunteer) ([]booking.Message, error)) (booking.Volunteer, error) {
	v, err := scanVolunteer(tx.QueryRow(ctx, lockVolunteer, id))
	if err != nil {
		return booking.Volunteer{}, err
	}
	msgs, err := fn(&v)
	if err != nil {
		return booking.Volunteer{}, err
	}
	if _, err := tx.Exec(ctx, saveVolunteer, v.ID, v.Status, v.UpdatedAt, v.StatusReason); err != nil {
		return booking.Volunteer{}, fmt.Errorf("save volunteer application %s: %w", v.ID, err)
	}
	return v, emit(ctx, tx, msgs)
}

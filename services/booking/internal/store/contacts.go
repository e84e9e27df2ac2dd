package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/services/booking/internal/booking"
)

const contactColumns = `id, email, name, phone, subject, message, status, created_at, updated_at`

const (
	insertContact = `INSERT INTO contacts (` + contactColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	lockContact   = `SELECT ` + contactColumns + `, status_reason FROM contacts WHERE id = $1 FOR UPDATE`
	listContacts  = `SELECT ` + contactColumns + `, status_reason FROM contacts`
	saveContact   = `UPDATE contacts SET status = $2, updated_at = $3, status_reason = $4 WHERE id = $1`
)

func scanContact(row pgx.Row) (booking.Contact, error) {
	var c booking.Contact
	err := row.Scan(&c.ID, &c.Email, &c.Name, &c.Phone, &c.Subject, &c.Message, &c.Status,
		&c.CreatedAt, &c.UpdatedAt, &c.StatusReason)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, notFound(err)
}

// AddContact stores a contact message and its events.
func (s *Store) AddContact(ctx context.Context, c booking.Contact, msgs []booking.Message) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertContact, c.ID, c.Email, c.Name, c.Phone, c.Subject,
			c.Message, c.Status, c.CreatedAt, c.UpdatedAt); err != nil {
			return fmt.Errorf("insert contact message %s: %w", c.ID, err)
		}
		return emit(ctx, tx, msgs)
	})
}

// Contacts lists contact messages newest first.
func (s *Store) Contacts(ctx context.Context, f booking.Filter) ([]booking.Contact, error) {
	var q query
	rows, err := s.pool.Query(ctx, listContacts+listing{timeCol: "created_at", desc: true}.build(&q, f, true), q.args...)
	if err != nil {
		return nil, fmt.Errorf("query contacts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (booking.Contact, error) { return scanContact(r) })
}

// UpdateContact changes a contact message under its row lock.
func (s *Store) UpdateContact(ctx context.Context, id uuid.UUID, fn func(*booking.Contact) ([]booking.Message, error)) (booking.Contact, error) {
	var out booking.Contact
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = updateContact(ctx, tx, id, fn)
		return err
	})
	return out, err
}

func updateContact(ctx context.Context, tx querier, id uuid.UUID, fn func(*booking.Contact) ([]booking.Message, error)) (booking.Contact, error) {
	c, err := scanContact(tx.QueryRow(ctx, lockContact, id))
	if err != nil {
		return booking.Contact{}, err
	}
	msgs, err := fn(&c)
	if err != nil {
		return booking.Contact{}, err
	}
	if _, err := tx.Exec(ctx, saveContact, c.ID, c.Status, c.UpdatedAt, c.StatusReason); err != nil {
		return booking.Contact{}, fmt.Errorf("save contact message %s: %w", c.ID, err)
	}
	return c, emit(ctx, tx, msgs)
}

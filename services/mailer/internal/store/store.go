// Package store keeps the mailer's record of sent emails in PostgreSQL, in
// the mailer schema. Its writes run in the consumer's transaction, the one
// that also records the event as consumed.
package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/acube/platform/libs/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the mailer's own schema migrations.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrationFiles, "migrations") // the path is fixed at compile time
	return postgres.Migrations{Name: "mailer", FS: sub}
}

// Delivery is one email to one recipient about one event.
type Delivery struct {
	EventID   uuid.UUID
	Recipient string
	EventType string
	Template  string
	MessageID string
}

const (
	asyncCommit   = `SET LOCAL synchronous_commit = off`
	claimDelivery = `INSERT INTO deliveries (event_id, recipient, event_type, template, message_id, sent_at)
VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT DO NOTHING`
)

// Claim writes d's row in tx before the email is sent; the caller commits
// tx only once the SMTP server has accepted the email, so a committed row
// means sent (sent_at is the claim's time, a few milliseconds early). It
// reports false when the row exists: the email went out before. A
// concurrent transaction claiming the same row waits for this one and then
// sees it.
//
// The transaction commits without waiting for its WAL flush
// (synchronous_commit off): the email, the one effect that matters, has
// left already, and a server crash that loses the record loses nothing the
// redelivery rules need, since the message was acknowledged only after
// the commit returned. It saves a disk flush per email.
func Claim(ctx context.Context, tx pgx.Tx, d Delivery) (bool, error) {
	b := &pgx.Batch{}
	b.Queue(asyncCommit)
	b.Queue(claimDelivery, d.EventID, Key(d.Recipient), d.EventType, d.Template, d.MessageID)
	res := tx.SendBatch(ctx, b)
	_, err := res.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = res.Exec()
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("claim delivery of event %s: %w", d.EventID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Key is how a recipient address is stored: lower-cased, so the same
// mailbox written two ways is one recipient.
func Key(recipient string) string { return strings.ToLower(recipient) }

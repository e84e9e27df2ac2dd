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
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	asyncCommit = `SET LOCAL synchronous_commit = off`
	// claimDeliveries inserts in key order, so two transactions claiming
	// some of the same rows lock them in the same order and cannot
	// deadlock; it returns the keys it inserted.
	claimDeliveries = `INSERT INTO deliveries (event_id, recipient, event_type, template, message_id, sent_at)
SELECT event_id, recipient, event_type, template, message_id, now()
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
    AS d(event_id, recipient, event_type, template, message_id)
ORDER BY event_id, recipient
ON CONFLICT DO NOTHING RETURNING event_id, recipient`
	purgeDeliveries   = `DELETE FROM deliveries WHERE sent_at < now() - make_interval(secs => $1)`
	releaseDeliveries = `DELETE FROM deliveries
WHERE (event_id, recipient) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`
)

// Claim is ClaimAll for one delivery.
func Claim(ctx context.Context, tx pgx.Tx, d Delivery) (bool, error) {
	claimed, err := ClaimAll(ctx, tx, []Delivery{d})
	if err != nil {
		return false, err
	}
	return claimed[0], nil
}

// ClaimAll writes the rows of ds in tx, in one statement, before the
// emails are sent; the caller commits tx only once the SMTP server has
// accepted them (and calls Release for those it refused), so a committed
// row means sent (sent_at is the claim's time, a few milliseconds early).
// It reports, per delivery, false when the row exists: that email went
// out before. A concurrent transaction claiming the same row waits for
// this one and then sees it.
//
// The transaction commits without waiting for its WAL flush
// (synchronous_commit off): the email, the one effect that matters, has
// left already, and a server crash that loses the record loses nothing the
// redelivery rules need, since the message was acknowledged only after
// the commit returned. It saves a disk flush per transaction.
func ClaimAll(ctx context.Context, tx pgx.Tx, ds []Delivery) ([]bool, error) {
	n := len(ds)
	ids := make([]uuid.UUID, n)
	recipients, types, tmpls, msgIDs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, d := range ds {
		ids[i], recipients[i], types[i], tmpls[i], msgIDs[i] = d.EventID, Key(d.Recipient), d.EventType, d.Template, d.MessageID
	}
	b := &pgx.Batch{}
	b.Queue(asyncCommit)
	b.Queue(claimDeliveries, ids, recipients, types, tmpls, msgIDs)
	res := tx.SendBatch(ctx, b)
	_, err := res.Exec()
	var inserted []key
	if err == nil {
		rows, _ := res.Query()
		inserted, err = pgx.CollectRows(rows, pgx.RowToStructByPos[key])
	}
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("claim %d deliveries: %w", n, err)
	}
	fresh := make(map[key]bool, len(inserted))
	for _, k := range inserted {
		fresh[k] = true
	}
	claimed := make([]bool, n)
	for i := range ds {
		k := key{ids[i], recipients[i]}
		claimed[i] = fresh[k]
		delete(fresh, k) // a second copy of a delivery is not a second claim
	}
	return claimed, nil
}

// Release deletes the rows of claimed deliveries whose emails were not
// sent, in tx, so the rest of tx can commit and their retries claim them
// again.
func Release(ctx context.Context, tx pgx.Tx, ds []Delivery) error {
	ids, recipients := make([]uuid.UUID, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		ids[i], recipients[i] = d.EventID, Key(d.Recipient)
	}
	if _, err := tx.Exec(ctx, releaseDeliveries, ids, recipients); err != nil {
		return fmt.Errorf("release %d deliveries: %w", len(ds), err)
	}
	return nil
}

// Purge deletes the records of emails sent longer than keep ago and
// reports how many went. keep must outlive every redelivery of an event
// (config.minRetention), or an old event could be mailed again.
func Purge(ctx context.Context, pool *pgxpool.Pool, keep time.Duration) (int64, error) {
	tag, err := pool.Exec(ctx, purgeDeliveries, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}

// key identifies a delivery row.
type key struct {
	EventID   uuid.UUID
	Recipient string
}

// Key is how a recipient address is stored: lower-cased, so the same
// mailbox written two ways is one recipient.
func Key(recipient string) string { return strings.ToLower(recipient) }

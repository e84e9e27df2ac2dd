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
	// Suppressed marks an email the recipient limit held back: its event
	// is recorded as consumed, and no delivery row is written.
	Suppressed bool
}

const (
	asyncCommit = `SET LOCAL synchronous_commit = off`
	// recordDeliveries inserts in key order, so two transactions writing
	// some of the same rows lock them in the same order and cannot
	// deadlock.
	recordDeliveries = `INSERT INTO deliveries (event_id, recipient, event_type, template, message_id, sent_at)
SELECT event_id, recipient, event_type, template, message_id, now()
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
    AS d(event_id, recipient, event_type, template, message_id)
ORDER BY event_id, recipient
ON CONFLICT DO NOTHING`
	purgeDeliveries = `DELETE FROM deliveries WHERE sent_at < now() - make_interval(secs => $1)`
)

// Record queues on b the statements that write the rows of emails the
// SMTP server accepted: the consumer sends them in its group commit, which
// also records their events as consumed, right after the sends. A
// committed row means sent (sent_at is the record's time, a few
// milliseconds after the 250 reply). A row that exists already is left as
// it is; a suppressed email has none.
//
// The transaction commits without waiting for its WAL flush
// (synchronous_commit off): the emails, the one effect that matters, have
// left already, and a database crash that loses the last records loses
// nothing the redelivery rules need, since the messages were acknowledged
// only after the commit returned. It saves a disk flush per group.
func Record(b *pgx.Batch, ds []Delivery) {
	n := len(ds)
	ids := make([]uuid.UUID, 0, n)
	recipients, types, tmpls, msgIDs := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	for _, d := range ds {
		if d.Suppressed {
			continue
		}
		ids, recipients, types = append(ids, d.EventID), append(recipients, Key(d.Recipient)), append(types, d.EventType)
		tmpls, msgIDs = append(tmpls, d.Template), append(msgIDs, d.MessageID)
	}
	b.Queue(asyncCommit)
	b.Queue(recordDeliveries, ids, recipients, types, tmpls, msgIDs)
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

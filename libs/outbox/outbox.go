// Package outbox is the transactional outbox: a domain change and the event
// that describes it are written in one database transaction, and a relay
// publishes the event to JetStream afterwards, so an event is never lost
// when NATS is down and never published for a change that rolled back.
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the outbox table's migrations, to be applied in every
// schema that writes events.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrationFiles, "migrations") // the path is fixed at compile time
	return postgres.Migrations{Name: "outbox", FS: sub}
}

// Execer is what Add needs of a transaction: pgx.Tx fits.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// The NOTIFY is delivered only when the transaction commits; notifications
// with the same payload in one transaction collapse into one.
const insertEvent = `
WITH ins AS (
	INSERT INTO outbox (id, subject, payload) VALUES ($1, $2, $3)
)
SELECT pg_notify('outbox_' || current_schema(), '')`

// Add writes ev to the outbox of the current schema within tx. The caller
// commits: the event exists exactly when the change does.
func Add(ctx context.Context, tx Execer, ev events.Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.Type, err)
	}
	return AddRaw(ctx, tx, ev.ID, ev.Subject(), payload)
}

// AddRaw writes an already-encoded message to the outbox under msgID, its
// JetStream message id. Add uses the event id; a replay of a dead letter
// keeps the event (and so the consumers' inbox key) but needs a message id
// of its own to pass the stream's duplicate window.
func AddRaw(ctx context.Context, tx Execer, msgID uuid.UUID, subject string, payload []byte) error {
	if _, err := tx.Exec(ctx, insertEvent, msgID, subject, payload); err != nil {
		return fmt.Errorf("write %s message to outbox: %w", subject, err)
	}
	return nil
}

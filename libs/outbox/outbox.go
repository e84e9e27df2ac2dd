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
	INSERT INTO outbox (id, key, subject, payload) VALUES ($1, $2, $3, $4)
)
SELECT pg_notify('outbox_' || current_schema(), '')`

// Add writes ev to the outbox of the current schema within tx. The caller
// commits: the event exists exactly when the change does. The row carries
// ev.OrderKey(), so the relay publishes the events of one aggregate one at a
// time, in the order they were written.
func Add(ctx context.Context, tx Execer, ev events.Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.Type, err)
	}
	return addRow(ctx, tx, ev.ID, ev.OrderKey(), ev.Subject(), payload)
}

// insertEvents is insertEvent for many rows, in the order given (seq
// follows it, and so does publishing).
const insertEvents = `
WITH ins AS (
	INSERT INTO outbox (id, key, subject, payload)
	SELECT id, key, subject, payload FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[]) WITH ORDINALITY AS e(id, key, subject, payload, n)
	ORDER BY n
)
SELECT pg_notify('outbox_' || current_schema(), '')`

// AddAll writes evs to the outbox within tx in one statement, in order: a
// change that fans out to many events (one per registrant, say) costs one
// round trip, not one per event.
func AddAll(ctx context.Context, tx Execer, evs []events.Event) error {
	switch len(evs) {
	case 0:
		return nil
	case 1: // the common case keeps the simpler statement and plan
		return Add(ctx, tx, evs[0])
	}
	ids, keys, subjects, payloads := make([]uuid.UUID, len(evs)), make([]string, len(evs)), make([]string, len(evs)), make([][]byte, len(evs))
	for i, ev := range evs {
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.Type, err)
		}
		ids[i], keys[i], subjects[i], payloads[i] = ev.ID, ev.OrderKey(), ev.Subject(), payload
	}
	if _, err := tx.Exec(ctx, insertEvents, ids, keys, subjects, payloads); err != nil {
		return fmt.Errorf("write %d events to outbox: %w", len(evs), err)
	}
	return nil
}

// AddRaw writes an already-encoded message to the outbox under msgID, its
// JetStream message id. Add uses the event id; a replay of a dead letter
// keeps the event (and so the consumers' inbox key) but needs a message id
// of its own to pass the stream's duplicate window. When payload is an
// event envelope the row takes the event's order key, so a replay waits
// for the in-flight events of its aggregate; otherwise msgID is its key.
func AddRaw(ctx context.Context, tx Execer, msgID uuid.UUID, subject string, payload []byte) error {
	key := msgID.String()
	var ev events.Event
	if json.Unmarshal(payload, &ev) == nil && ev.ID != uuid.Nil {
		key = ev.OrderKey()
	}
	return addRow(ctx, tx, msgID, key, subject, payload)
}

func addRow(ctx context.Context, tx Execer, msgID uuid.UUID, key, subject string, payload []byte) error {
	if _, err := tx.Exec(ctx, insertEvent, msgID, key, subject, payload); err != nil {
		return fmt.Errorf("write %s message to outbox: %w", subject, err)
	}
	return nil
}

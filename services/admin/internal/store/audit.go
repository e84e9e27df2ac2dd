package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/admin/internal/audit"
)

// Audit reads and appends the audit log.
type Audit struct {
	pool *pgxpool.Pool
}

// NewAudit returns the audit log store over pool.
func NewAudit(pool *pgxpool.Pool) *Audit { return &Audit{pool: pool} }

const appendAudit = `
INSERT INTO audit_log (id, source, actor_id, actor_email, action, entity, entity_id, client_ip, changes, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
ON CONFLICT (id) DO NOTHING`

// Append stores one audit event within tx, the consumer's transaction.
// The event id is the row's key, so a replayed event adds nothing.
func Append(ctx context.Context, tx pgx.Tx, ev events.Event) error {
	var r events.AuditRecord
	if err := ev.UnmarshalData(&r); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("audit event %s: %w", ev.ID, err)
	}
	var changes *string
	if len(r.Changes) > 0 && string(r.Changes) != "null" {
		s := string(r.Changes)
		changes = &s
	}
	_, err := tx.Exec(ctx, appendAudit, ev.ID, ev.Source, r.ActorID, r.ActorEmail, r.Action, r.Entity,
		r.EntityID, r.ClientIP, changes, r.OccurredAt)
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", ev.ID, err)
	}
	return nil
}

// queryAudit is one page of the audit log, newest first: the WHERE
// clause (postgres.Where) and the number of the LIMIT argument go in.
const queryAudit = `
SELECT id, source, actor_id, actor_email, action, entity, entity_id, client_ip, changes, occurred_at
FROM audit_log%s
ORDER BY occurred_at DESC, id DESC LIMIT $%d`

// Query returns the entries f selects, newest first, one page of at most
// f.Limit, and the cursor of the next page (nil on the last).
func (s *Audit) Query(ctx context.Context, f audit.Filter) ([]audit.Entry, *keyset.Cursor, error) {
	var w postgres.Where
	if f.ActorID != "" {
		w.Add("actor_id = $1", f.ActorID)
	}
	if f.ActorEmail != "" {
		w.Add("actor_email = $1", f.ActorEmail)
	}
	if f.Action != "" {
		w.Add("action = $1", f.Action)
	}
	if f.Entity != "" {
		w.Add("entity = $1", f.Entity)
	}
	if f.EntityID != "" {
		w.Add("entity_id = $1", f.EntityID)
	}
	if !f.From.IsZero() {
		w.Add("occurred_at >= $1", f.From)
	}
	if !f.To.IsZero() {
		w.Add("occurred_at < $1", f.To)
	}
	if f.After != nil {
		w.Add("(occurred_at, id) < ($1, $2::uuid)", f.After.At, f.After.ID)
	}
	args := append(w.Args(), f.Limit+1)
	q := fmt.Sprintf(queryAudit, w.String(), len(args))

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("query audit log: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Entry, error) {
		var (
			e       audit.Entry
			changes []byte
			at      time.Time
		)
		err := r.Scan(&e.ID, &e.Source, &e.ActorID, &e.ActorEmail, &e.Action, &e.Entity, &e.EntityID,
			&e.ClientIP, &changes, &at)
		e.OccurredAt = at.UTC()
		e.Changes = json.RawMessage(changes)
		if changes == nil {
			e.Changes = json.RawMessage("null")
		}
		return e, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read audit log: %w", err)
	}
	var next *keyset.Cursor
	if len(list) > f.Limit {
		list = list[:f.Limit]
		last := list[len(list)-1]
		id, err := uuid.Parse(last.ID) // the id column is a uuid
		if err != nil {
			return nil, nil, fmt.Errorf("read audit log: id %q: %w", last.ID, err)
		}
		next = &keyset.Cursor{At: last.OccurredAt, ID: id}
	}
	return list, next, nil
}

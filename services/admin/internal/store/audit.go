package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
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

// Query returns the entries f selects, newest first, one page of at most
// f.Limit, and the cursor of the next page (nil on the last).
func (s *Audit) Query(ctx context.Context, f audit.Filter) ([]audit.Entry, *keyset.Cursor, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.ActorID != "" {
		add("actor_id = ?", f.ActorID)
	}
	if f.ActorEmail != "" {
		add("actor_email = ?", f.ActorEmail)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Entity != "" {
		add("entity = ?", f.Entity)
	}
	if f.EntityID != "" {
		add("entity_id = ?", f.EntityID)
	}
	if !f.From.IsZero() {
		add("occurred_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("occurred_at < ?", f.To)
	}
	if f.After != nil {
		args = append(args, f.After.At, f.After.ID)
		where = append(where, fmt.Sprintf("(occurred_at, id) < ($%d, $%d::uuid)", len(args)-1, len(args)))
	}
	q := `SELECT id, source, actor_id, actor_email, action, entity, entity_id, client_ip, changes, occurred_at FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	q += fmt.Sprintf(" ORDER BY occurred_at DESC, id DESC LIMIT $%d", len(args))

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

package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
)

// DeadLetters records dead-letter actions.
type DeadLetters struct {
	pool *pgxpool.Pool
}

// NewDeadLetters returns the dead-letter store over pool.
func NewDeadLetters(pool *pgxpool.Pool) *DeadLetters { return &DeadLetters{pool: pool} }

// queueRaw puts an already-encoded event in the outbox under a message id
// of its own. It mirrors outbox.Add, which always uses the event's id as
// the message id: a replay must keep the event id (consumers' inbox key)
// but needs a new message id to pass JetStream's duplicate window.
const queueRaw = `
WITH ins AS (
	INSERT INTO outbox (id, subject, payload) VALUES ($1, $2, $3)
)
SELECT pg_notify('outbox_' || current_schema(), '')`

// Replay queues the original payload and the audit event in one transaction.
func (s *DeadLetters) Replay(ctx context.Context, msgID uuid.UUID, subject string, payload []byte, auditEv events.Event) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, queueRaw, msgID, subject, payload); err != nil {
			return fmt.Errorf("queue replay on %s: %w", subject, err)
		}
		return emit(ctx, tx, auditEv)
	})
}

// Discard writes the audit event, runs del, and commits only if del
// succeeded.
func (s *DeadLetters) Discard(ctx context.Context, auditEv events.Event, del func(context.Context) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := emit(ctx, tx, auditEv); err != nil {
			return err
		}
		return del(ctx)
	})
}

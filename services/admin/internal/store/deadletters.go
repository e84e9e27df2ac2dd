package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox"
)

// DeadLetters records dead-letter actions.
type DeadLetters struct {
	pool *pgxpool.Pool
}

// NewDeadLetters returns the dead-letter store over pool.
func NewDeadLetters(pool *pgxpool.Pool) *DeadLetters { return &DeadLetters{pool: pool} }

// Replay queues the original payload and the audit event in one transaction.
func (s *DeadLetters) Replay(ctx context.Context, msgID uuid.UUID, subject string, payload []byte, auditEv events.Event) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := outbox.AddRaw(ctx, tx, msgID, subject, payload); err != nil {
			return fmt.Errorf("queue replay: %w", err)
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

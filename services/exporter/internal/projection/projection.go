// Package projection keeps the exporter's copy of the audit trail: a
// durable consumer of AUDIT that inserts each event into the projection
// exactly once, and a rebuild that replays the whole stream into a fresh
// table and swaps it in.
package projection

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/store"
)

// Durable names the projection's consumer in JetStream and in the inbox.
const Durable = "exporter-audit"

// ConsumerConfig is the projection consumer's configuration.
func ConsumerConfig() consume.Config {
	return consume.Config{
		Stream:   stream.Audit(1).Name,
		Durable:  Durable,
		Subjects: []string{audit.SubjectPrefix + ">"},
	}
}

// Handle inserts one audit event into the projection within the consumer's
// transaction. A malformed event can never succeed and is dead-lettered.
func Handle(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
	rec, err := audit.FromEvent(msg.Event)
	if err != nil {
		return consume.Permanent(err)
	}
	return store.InsertAudit(ctx, tx, rec)
}

// NewConsumer builds the projection's durable consumer.
func NewConsumer(pool *pgxpool.Pool, js jetstream.JetStream, m *consume.Metrics, log *slog.Logger) (*consume.Runner, error) {
	r, err := consume.New(pool, js, m, log, ConsumerConfig(), Handle)
	if err != nil {
		return nil, fmt.Errorf("audit projection consumer: %w", err)
	}
	return r, nil
}

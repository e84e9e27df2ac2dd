// Package consumer holds the admin service's durable JetStream consumers:
// every service's audit events, appended to the audit log, and the owners'
// reports on the bulk jobs the admin asked them to carry out.
package consumer

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/services/admin/internal/audit"
	"github.com/acube/platform/services/admin/internal/job"
	"github.com/acube/platform/services/admin/internal/store"
)

// Durable consumer names; they also name dead-letter subjects.
const (
	AuditDurable = "admin-audit"
	JobsDurable  = "admin-jobs"
)

// jobsSubject matches the owners' reports on jobs: booking.job.progress
// and booking.job.completed.
const jobsSubject = "booking.job.>"

// NewAudit returns the runner that appends every audit.> event to the
// audit log.
func NewAudit(pool *pgxpool.Pool, js jetstream.JetStream, m *consume.Metrics, log *slog.Logger) (*consume.Runner, error) {
	return consume.New(pool, js, m, log, consume.Config{
		Stream: stream.Audit(1).Name, Durable: AuditDurable, Subjects: []string{audit.SubjectPrefix + ">"},
	}, AppendAudit)
}

// AppendAudit stores one audit event in the consumer's transaction. A
// record that breaks the contract can never be stored: it is
// dead-lettered at once instead of retried.
func AppendAudit(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
	err := store.Append(ctx, tx, msg.Event)
	if errors.Is(err, audit.ErrInvalid) {
		return consume.Permanent(err)
	}
	return err
}

// NewJobs returns the runner that applies the owners' progress and
// completion reports to the jobs they belong to. Its stream is booking's:
// it binds once booking has declared it, and the admin's own API never
// waits for that.
func NewJobs(pool *pgxpool.Pool, js jetstream.JetStream, m *consume.Metrics, log *slog.Logger, jobs *job.Service) (*consume.Runner, error) {
	return consume.New(pool, js, m, log, consume.Config{
		Stream: stream.Booking(1).Name, Durable: JobsDurable, Subjects: []string{jobsSubject},
	}, JobEvents(jobs))
}

// JobEvents applies one owner report in the consumer's transaction. A
// report for a job that does not exist, or of a kind the admin does not
// know, cannot succeed later: it is dead-lettered at once.
func JobEvents(jobs *job.Service) consume.Handler {
	return func(ctx context.Context, tx pgx.Tx, msg consume.Message) error {
		err := jobs.HandleOwnerEvent(ctx, store.JobTx(tx), msg.Event)
		if errors.Is(err, job.ErrNotFound) || errors.Is(err, job.ErrUnexpectedEvent) {
			return consume.Permanent(err)
		}
		return err
	}
}

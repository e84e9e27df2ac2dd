// Package consumer holds booking's durable JetStream consumers: the bulk
// jobs the admin service asks booking to carry out.
package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/consume"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/booking/internal/booking"
)

// Names of the bulk-job consumer.
const (
	JobsDurable = "booking-jobs"
	JobsSubject = "admin.job.requested"
)

// JobsConfig tunes the bulk-job consumer.
type JobsConfig struct {
	// ChunkSize is how many ids one transaction applies.
	ChunkSize int
	// Timeout bounds one job run; a longer job resumes on redelivery from
	// its last committed chunk [5m].
	Timeout time.Duration
	// MaxAttempts bounds the runs of one job before its request is
	// dead-lettered [5].
	MaxAttempts int
}

// NewJobs returns the runner that executes admin.job.requested. The
// handler does not use the consumer's transaction for the work: each
// chunk commits on its own with its progress event and the job's cursor,
// so a redelivery after a crash resumes instead of starting over, and the
// inbox record (committed last) only marks the whole job handled. Each
// run logs "BACKGROUND JOB" lines: started, progress at most once per
// tenth of its chunks, and completed or failed.
func NewJobs(pool *pgxpool.Pool, js jetstream.JetStream, m *consume.Metrics, log *slog.Logger, svc *booking.Service, cfg JobsConfig) (*consume.Runner, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	log = log.With("component", "bulk_jobs")
	h := func(ctx context.Context, _ pgx.Tx, msg consume.Message) error {
		var req events.JobRequest
		if err := msg.Event.UnmarshalData(&req); err != nil {
			return consume.Permanent(err)
		}
		jl := startJob(log, req, cfg.ChunkSize, msg.Delivery)
		run, err := svc.RunJob(ctx, req, cfg.ChunkSize, jl.progress)
		if err != nil {
			jl.failed(ctx, run, err, msg.Delivery < uint64(cfg.MaxAttempts))
			return fmt.Errorf("run bulk job: %w", err)
		}
		jl.finished(run)
		return nil
	}
	// AckWait stays the runner's default although a job runs for
	// minutes: the runner heartbeats the message while it is in hand, and
	// a short AckWait lets a standby take a crashed replica's jobs over
	// in about AckWait, not Timeout.
	return consume.New(pool, js, m, log, consume.Config{
		Stream:        "ADMIN",
		Durable:       JobsDurable,
		Subjects:      []string{JobsSubject},
		HandleTimeout: cfg.Timeout,
		MaxAttempts:   cfg.MaxAttempts,
		Concurrency:   2,
	}, h)
}

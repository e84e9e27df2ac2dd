package consumer

import (
	"context"
	"log/slog"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/booking/internal/booking"
)

// The "BACKGROUND JOB" lines are the seed's runbook phrase (README.md,
// "Following the logs"): an operator greps for it to follow bulk jobs.
const (
	msgJobStarted   = "BACKGROUND JOB started"
	msgJobProgress  = "BACKGROUND JOB progress"
	msgJobCompleted = "BACKGROUND JOB completed"
	msgJobFailed    = "BACKGROUND JOB failed"
)

// progressSteps bounds the progress lines of one run: one each time
// another tenth of the chunks is done, so a job of any size writes at
// most nine, and never more than one per chunk.
const progressSteps = 10

// jobLog writes the lines of one run of a bulk job.
type jobLog struct {
	log      *slog.Logger
	start    time.Time
	lastStep int
}

// startJob logs the start of a run of req, delivered for the delivery-th
// time, and returns the logger for the rest of it.
func startJob(log *slog.Logger, req events.JobRequest, chunkSize int, delivery uint64) *jobLog {
	l := &jobLog{start: time.Now(), log: log.With("job_id", req.JobID.String(), "kind", "bulk_"+req.Action,
		"entity", req.Entity, "delivery", delivery)}
	attrs := []any{"ids", len(req.IDs), "chunks", booking.JobChunks(len(req.IDs), chunkSize),
		"requested_by", req.RequestedBy.ID}
	if req.Status != "" {
		attrs = append(attrs, "status", req.Status)
	}
	if !req.RequestedAt.IsZero() {
		attrs = append(attrs, "queued_ms", l.start.Sub(req.RequestedAt).Milliseconds())
	}
	l.log.Info(msgJobStarted, attrs...)
	return l
}

// progress logs run when it has crossed into another tenth of its chunks;
// the last chunk is the completed line's.
func (l *jobLog) progress(run booking.JobRun) {
	if run.Chunks == 0 || run.Done >= run.Chunks {
		return
	}
	step := run.Done * progressSteps / run.Chunks
	if step <= l.lastStep {
		return
	}
	l.lastStep = step
	l.log.Info(msgJobProgress, "chunks", run.Chunks, "chunks_done", run.Done, "percent", run.Done*100/run.Chunks,
		"processed", run.Totals.Processed, "succeeded", run.Totals.Succeeded, "failed", run.Totals.Failed,
		"duration_ms", time.Since(l.start).Milliseconds())
}

// finished logs the end of a run: completed, or failed when booking
// refused the whole job.
func (l *jobLog) finished(run booking.JobRun) {
	took := time.Since(l.start).Milliseconds()
	if run.Refused != "" {
		l.log.Error(msgJobFailed, "error", run.Refused, "will_retry", false, "duration_ms", took)
		return
	}
	l.log.Info(msgJobCompleted, "chunks", run.Chunks, "chunks_skipped", run.Skipped,
		"processed", run.Totals.Processed, "succeeded", run.Totals.Succeeded, "failed", run.Totals.Failed,
		"duration_ms", took)
}

// failed logs a run that stopped on err. A retry resumes after the last
// committed chunk; after the last attempt the request is dead-lettered.
func (l *jobLog) failed(ctx context.Context, run booking.JobRun, err error, willRetry bool) {
	level := slog.LevelError
	if willRetry {
		level = slog.LevelWarn
	}
	l.log.Log(ctx, level, msgJobFailed, "error", err.Error(), "will_retry", willRetry, "chunks", run.Chunks,
		"chunks_done", run.Done, "duration_ms", time.Since(l.start).Milliseconds())
}

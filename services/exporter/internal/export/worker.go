package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// The worker's "BACKGROUND JOB" lines: the seed's runbook phrase, which
// an operator greps for to follow exports (README.md, "Following the
// logs"). jobKind and jobEntity name the export in them.
const (
	msgJobStarted   = "BACKGROUND JOB started"
	msgJobProgress  = "BACKGROUND JOB progress"
	msgJobCompleted = "BACKGROUND JOB completed"
	msgJobFailed    = "BACKGROUND JOB failed"
	jobKind         = "audit_export"
	jobEntity       = "audit_log"
)

// WorkerConfig tunes a Worker. Zero values take the defaults in brackets.
type WorkerConfig struct {
	// Lease is how long a claim holds without a heartbeat; a crashed
	// worker's export is claimed again after it [1m].
	Lease time.Duration
	// Poll is how often an idle worker looks for queued exports [2s].
	Poll time.Duration
	// MaxAttempts bounds the runs of one export before it fails [3].
	MaxAttempts int
	// RetryDelay is the wait before a failed run is tried again; it grows
	// with each attempt [10s].
	RetryDelay time.Duration
	// TTL is how long a finished export can be downloaded [168h].
	TTL time.Duration
	// Links builds the URLs that go into events.
	Links Links
}

func (c *WorkerConfig) setDefaults() {
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 10 * time.Second
	}
	if c.TTL <= 0 {
		c.TTL = 7 * 24 * time.Hour
	}
}

// Worker runs queued exports one at a time. Several workers, in one process
// or many, share the queue: each export is claimed by one under a lease that
// its heartbeat extends.
type Worker struct {
	store  Store
	source RecordSource
	files  Files
	m      *Metrics
	log    *slog.Logger
	cfg    WorkerConfig
	now    func() time.Time
	wakeup chan struct{}
}

// NewWorker builds a worker; Run starts it.
func NewWorker(store Store, source RecordSource, files Files, m *Metrics, log *slog.Logger, now func() time.Time, cfg WorkerConfig) *Worker {
	cfg.setDefaults()
	return &Worker{store: store, source: source, files: files, m: m, cfg: cfg, now: now,
		log: log.With("component", "export_worker"), wakeup: make(chan struct{}, 1)}
}

// Wake makes an idle worker look for work now.
func (w *Worker) Wake() {
	select {
	case w.wakeup <- struct{}{}:
	default:
	}
}

// Run works until ctx ends. An export running then is put back in the queue
// for the next start (or another replica) and Run returns nil.
func (w *Worker) Run(ctx context.Context) error {
	poll := time.NewTicker(w.cfg.Poll)
	defer poll.Stop()
	for {
		worked, err := w.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.log.Warn("export worker failed; retrying", "error", err.Error())
		}
		if worked && err == nil {
			continue // there may be more queued
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wakeup:
		case <-poll.C:
		}
	}
}

// RunOnce claims one export and runs it to an outcome. It reports false
// when no export was waiting.
func (w *Worker) RunOnce(ctx context.Context) (bool, error) {
	claim := uuid.New()
	e, ok, err := w.store.Claim(ctx, claim, w.cfg.Lease)
	if err != nil {
		return false, fmt.Errorf("claim export: %w", err)
	}
	if !ok {
		return false, nil
	}
	// Every line of the run names the export as a background job
	// (README.md, "Following the logs"): the seed's runbook greps for
	// "BACKGROUND JOB".
	log := w.log.With("job_id", e.ID.String(), "kind", jobKind, "entity", jobEntity, "attempt", e.Attempts)
	// Outcomes are recorded even while shutting down.
	bg := context.WithoutCancel(ctx)
	start := w.now()
	if e.Attempts > w.cfg.MaxAttempts {
		reason := fmt.Sprintf("the export was interrupted %d times", e.Attempts-1)
		return true, w.fail(bg, log, e, claim, reason, start)
	}
	log.Info(msgJobStarted, "requested_by", e.Admin.ID, "queued_ms", start.Sub(e.CreatedAt).Milliseconds())
	done, runErr := w.run(ctx, log, e, claim)
	took := func() int64 { return w.now().Sub(start).Milliseconds() }
	switch {
	case runErr == nil:
		w.m.runs.WithLabelValues(OutcomeCompleted).Inc()
		w.m.duration.Observe(w.now().Sub(start).Seconds())
		w.m.rows.Add(float64(done.Rows))
		w.m.bytes.Add(float64(done.Size))
		log.Info(msgJobCompleted, "rows", done.Rows, "bytes", done.Size, "duration_ms", took())
		return true, nil
	case errors.Is(runErr, ErrLeaseLost):
		w.m.runs.WithLabelValues(OutcomeLeaseLost).Inc()
		log.Warn(msgJobFailed, "error", runErr.Error(), "will_retry", true, "taken_over", true, "duration_ms", took())
		return true, nil
	case ctx.Err() != nil:
		w.m.runs.WithLabelValues(OutcomeInterrupted).Inc()
		log.Warn(msgJobFailed, "error", "interrupted by shutdown; queued again", "will_retry", true, "duration_ms", took())
		if err := w.store.Release(bg, e.ID, claim, w.now(), false); err != nil {
			return true, fmt.Errorf("release export %s: %w", e.ID, err)
		}
		return true, nil
	case e.Attempts < w.cfg.MaxAttempts:
		w.m.runs.WithLabelValues(OutcomeRetried).Inc()
		delay := time.Duration(e.Attempts) * w.cfg.RetryDelay
		log.Warn(msgJobFailed, "error", runErr.Error(), "will_retry", true, "retry_in_ms", delay.Milliseconds(), "duration_ms", took())
		if err := w.store.Release(bg, e.ID, claim, w.now().Add(delay), true); err != nil {
			return true, fmt.Errorf("release export %s: %w", e.ID, err)
		}
		return true, nil
	default:
		return true, w.fail(bg, log, e, claim, runErr.Error(), start)
	}
}

func (w *Worker) fail(ctx context.Context, log *slog.Logger, e Export, claim uuid.UUID, reason string, start time.Time) error {
	w.m.runs.WithLabelValues(OutcomeFailed).Inc()
	log.Error(msgJobFailed, "error", reason, "will_retry", false, "duration_ms", w.now().Sub(start).Milliseconds())
	ev := FailedData{ExportID: e.ID, AdminID: e.Admin.ID, AdminEmail: e.Admin.Email, AdminName: e.Admin.Name,
		Error: reason, StatusURL: w.cfg.Links.Status(e.ID)}
	if err := w.store.Fail(ctx, e.ID, claim, reason, w.now().UTC(), ev); err != nil {
		return fmt.Errorf("mark export %s failed: %w", e.ID, err)
	}
	return nil
}

// run writes the run's own file while a heartbeat keeps the lease, then
// marks the export completed with that file in one step.
func (w *Worker) run(ctx context.Context, log *slog.Logger, e Export, claim uuid.UUID) (Done, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var c Counters
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeat(ctx, cancel, log, e.ID, claim, &c)
	}()
	defer func() { <-hbDone }()
	defer cancel(nil) // stops the heartbeat before waiting for it

	file := RunFile(e.File, claim)
	rows, size, err := w.write(ctx, e, file, &c)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrLeaseLost) {
			err = cause
		}
		return Done{}, err
	}
	// PostgreSQL keeps microseconds; the event must say what the row says.
	now := w.now().UTC().Truncate(time.Microsecond)
	done := Done{File: file, Rows: rows, Size: size, FinishedAt: now, ExpiresAt: now.Add(w.cfg.TTL)}
	ev := events.ExportCompleted{ExportID: e.ID, AdminID: e.Admin.ID, AdminEmail: e.Admin.Email, AdminName: e.Admin.Name,
		Kind: KindAuditLogs, Rows: rows, Bytes: size, DownloadURL: w.cfg.Links.Download(e.ID),
		ExpiresAt: done.ExpiresAt, CompletedAt: done.FinishedAt}
	if err := w.store.Complete(context.WithoutCancel(ctx), e.ID, claim, done, ev); err != nil {
		w.discard(log, file)
		return Done{}, fmt.Errorf("complete export %s: %w", e.ID, err)
	}
	return done, nil
}

// write streams the CSV into the run's file as it is read from the
// projection: memory stays flat however many rows (WriteCSV, and the
// store takes the output chunk by chunk). It returns rows and bytes. A
// failed write leaves no file (Files.Write).
func (w *Worker) write(ctx context.Context, e Export, file string, c *Counters) (int64, int64, error) {
	var rows int64
	size, err := w.files.Write(ctx, file, ContentType, func(out io.Writer) error {
		var err error
		rows, err = WriteCSV(ctx, w.source, e.Filter, out, c)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("write export %s: %w", e.ID, err)
	}
	return rows, size, nil
}

// discard deletes a run's file that no export row names (its Complete
// failed). Should that fail too, the bucket's TTL removes it.
func (w *Worker) discard(log *slog.Logger, file string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.files.Delete(ctx, file); err != nil {
		log.Warn("delete the file of an uncompleted run; the bucket's TTL will", "file", file, "error", err.Error())
	}
}

// heartbeat extends the lease and records and logs progress every third
// of the lease (20 s by default): a bounded rate however large the
// export. It cancels the run when the lease is lost, or when it could not be
// renewed for most of its length: another worker may then take over, and
// two must never both think they hold the export.
func (w *Worker) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, log *slog.Logger, id, claim uuid.UUID, c *Counters) {
	t := time.NewTicker(w.cfg.Lease / 3)
	defer t.Stop()
	start := w.now()
	lastOK := start
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		total, written := c.Total.Load(), c.Written.Load()
		err := w.store.Heartbeat(ctx, id, claim, total, written, w.cfg.Lease)
		switch {
		case err == nil:
			lastOK = w.now()
			// total is the planner's estimate until the end: the
			// percentage is a guide, capped below 100.
			percent := int64(0)
			if total > 0 {
				percent = min(99, written*100/total)
			}
			log.Info(msgJobProgress, "rows_written", written, "rows_estimate", total, "percent", percent,
				"duration_ms", lastOK.Sub(start).Milliseconds())
		case errors.Is(err, ErrLeaseLost):
			cancel(err)
			return
		case ctx.Err() != nil:
			return
		default:
			log.Warn("export heartbeat failed", "error", err.Error())
			if w.now().Sub(lastOK) > w.cfg.Lease*2/3 {
				cancel(fmt.Errorf("heartbeat failing since %s: %w", lastOK.Format(time.RFC3339), ErrLeaseLost))
				return
			}
		}
	}
}

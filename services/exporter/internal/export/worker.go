package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
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
	files  *Files
	m      *Metrics
	log    *slog.Logger
	cfg    WorkerConfig
	now    func() time.Time
	wakeup chan struct{}
}

// NewWorker builds a worker; Run starts it.
func NewWorker(store Store, source RecordSource, files *Files, m *Metrics, log *slog.Logger, now func() time.Time, cfg WorkerConfig) *Worker {
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
	log := w.log.With("export_id", e.ID.String(), "attempt", e.Attempts)
	// Outcomes are recorded even while shutting down.
	bg := context.WithoutCancel(ctx)
	if e.Attempts > w.cfg.MaxAttempts {
		reason := fmt.Sprintf("the export was interrupted %d times", e.Attempts-1)
		return true, w.fail(bg, log, e, claim, reason)
	}
	log.Info("export started")
	start := w.now()
	done, runErr := w.run(ctx, e, claim)
	switch {
	case runErr == nil:
		w.m.runs.WithLabelValues(OutcomeCompleted).Inc()
		w.m.duration.Observe(w.now().Sub(start).Seconds())
		w.m.rows.Add(float64(done.Rows))
		w.m.bytes.Add(float64(done.Size))
		log.Info("export completed", "rows", done.Rows, "bytes", done.Size, "duration_ms", w.now().Sub(start).Milliseconds())
		return true, nil
	case errors.Is(runErr, ErrLeaseLost):
		w.m.runs.WithLabelValues(OutcomeLeaseLost).Inc()
		log.Warn("export taken over by another worker", "error", runErr.Error())
		return true, nil
	case ctx.Err() != nil:
		w.m.runs.WithLabelValues(OutcomeInterrupted).Inc()
		log.Info("export interrupted by shutdown; queued again")
		if err := w.store.Release(bg, e.ID, claim, w.now(), false); err != nil {
			return true, fmt.Errorf("release export %s: %w", e.ID, err)
		}
		return true, nil
	case e.Attempts < w.cfg.MaxAttempts:
		w.m.runs.WithLabelValues(OutcomeRetried).Inc()
		delay := time.Duration(e.Attempts) * w.cfg.RetryDelay
		log.Warn("export failed; will retry", "error", runErr.Error(), "retry_in_ms", delay.Milliseconds())
		if err := w.store.Release(bg, e.ID, claim, w.now().Add(delay), true); err != nil {
			return true, fmt.Errorf("release export %s: %w", e.ID, err)
		}
		return true, nil
	default:
		return true, w.fail(bg, log, e, claim, runErr.Error())
	}
}

func (w *Worker) fail(ctx context.Context, log *slog.Logger, e Export, claim uuid.UUID, reason string) error {
	w.m.runs.WithLabelValues(OutcomeFailed).Inc()
	log.Error("export failed", "error", reason)
	ev := FailedData{ExportID: e.ID, AdminID: e.Admin.ID, AdminEmail: e.Admin.Email, AdminName: e.Admin.Name,
		Error: reason, StatusURL: w.cfg.Links.Status(e.ID)}
	if err := w.store.Fail(ctx, e.ID, claim, reason, w.now().UTC(), ev); err != nil {
		return fmt.Errorf("mark export %s failed: %w", e.ID, err)
	}
	return nil
}

// run writes the file under a part name while a heartbeat keeps the lease,
// then publishes it and marks the export completed in one step.
func (w *Worker) run(ctx context.Context, e Export, claim uuid.UUID) (Done, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var c Counters
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeat(ctx, cancel, e.ID, claim, &c)
	}()
	defer func() { <-hbDone }()
	defer cancel(nil) // stops the heartbeat before waiting for it

	part := PartName(e.File, claim)
	rows, size, err := w.write(ctx, e, part, &c)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrLeaseLost) {
			err = cause
		}
		if rmErr := w.files.Remove(part); rmErr != nil {
			w.log.Warn("remove part file", "export_id", e.ID.String(), "error", rmErr.Error())
		}
		return Done{}, err
	}
	// PostgreSQL keeps microseconds; the event must say what the row says.
	now := w.now().UTC().Truncate(time.Microsecond)
	done := Done{Rows: rows, Size: size, FinishedAt: now, ExpiresAt: now.Add(w.cfg.TTL)}
	ev := CompletedData{ExportID: e.ID, AdminID: e.Admin.ID, AdminEmail: e.Admin.Email, AdminName: e.Admin.Name,
		Kind: KindAuditLogs, Rows: rows, Bytes: size, DownloadURL: w.cfg.Links.Download(e.ID),
		ExpiresAt: done.ExpiresAt, CompletedAt: done.FinishedAt}
	err = w.store.Complete(context.WithoutCancel(ctx), e.ID, claim, done, ev, func() error {
		return w.files.Publish(part, e.File)
	})
	if err != nil {
		if rmErr := w.files.Remove(part); rmErr != nil {
			w.log.Warn("remove part file", "export_id", e.ID.String(), "error", rmErr.Error())
		}
		return Done{}, fmt.Errorf("complete export %s: %w", e.ID, err)
	}
	return done, nil
}

// write creates the part file and fills it; it returns rows and bytes.
func (w *Worker) write(ctx context.Context, e Export, part string, c *Counters) (int64, int64, error) {
	f, err := w.files.Create(part)
	if err != nil {
		return 0, 0, err
	}
	rows, err := WriteCSV(ctx, w.source, e.Filter, f, c)
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if err == nil {
		var info os.FileInfo
		if info, err = f.Stat(); err == nil {
			size = info.Size()
		}
	}
	if cErr := f.Close(); err == nil && cErr != nil {
		err = fmt.Errorf("close export file: %w", cErr)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("write export %s: %w", e.ID, err)
	}
	return rows, size, nil
}

// heartbeat extends the lease and records progress every third of the
// lease. It cancels the run when the lease is lost, or when it could not be
// renewed for most of its length: another worker may then take over, and
// two must never both think they hold the export.
func (w *Worker) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, id, claim uuid.UUID, c *Counters) {
	t := time.NewTicker(w.cfg.Lease / 3)
	defer t.Stop()
	lastOK := w.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := w.store.Heartbeat(ctx, id, claim, c.Total.Load(), c.Written.Load(), w.cfg.Lease)
		switch {
		case err == nil:
			lastOK = w.now()
		case errors.Is(err, ErrLeaseLost):
			cancel(err)
			return
		case ctx.Err() != nil:
			return
		default:
			w.log.Warn("export heartbeat failed", "export_id", id.String(), "error", err.Error())
			if w.now().Sub(lastOK) > w.cfg.Lease*2/3 {
				cancel(fmt.Errorf("heartbeat failing since %s: %w", lastOK.Format(time.RFC3339), ErrLeaseLost))
				return
			}
		}
	}
}

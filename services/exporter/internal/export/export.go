// Package export is the audit export use case: an administrator asks for
// the audit trail as CSV, a worker writes the file from the projection in
// flat memory, the administrator is told by e-mail and downloads it until
// it expires. Exports are rows in the exporter's database, so a restart or
// crash mid-way loses nothing: the export is claimed again and rewritten.
//
// The package knows nothing of HTTP, SQL or NATS: the store and the
// source are interfaces, implemented in package store.
package export

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/exporter/internal/audit"
)

// Source names this service in event envelopes.
const Source = "exporter"

// Status is where an export stands.
type Status string

// The statuses of an export. Expiry is not a status: a completed export
// whose ExpiresAt has passed is gone (404), whether or not its file has
// been purged yet.
const (
	Queued    Status = "queued"
	Running   Status = "running"
	Completed Status = "completed"
	Failed    Status = "failed"
)

// Admin is the administrator who asked for an export: who gets the e-mail.
type Admin struct {
	ID    string
	Email string
	Name  string
}

// Export is one requested audit export.
type Export struct {
	ID     uuid.UUID
	Admin  Admin
	Filter audit.Filter
	Status Status
	// RowsTotal is the planner's estimate of the rows while the export runs,
	// the exact number once it is completed.
	RowsTotal   int64
	RowsWritten int64
	// Attempts counts the runs that claimed the export.
	Attempts int
	// File names the export's file in the EXPORTS bucket: random, so it
	// cannot be guessed, and never taken from a request. Until the export
	// completes it is the stem its runs name their files by (RunFile);
	// then it is the file of the run that completed it.
	File       string
	Size       int64
	Error      string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	ExpiresAt  time.Time
}

// Progress is the share of rows written, 0 to 100. A running export stays
// below 100 until it is complete.
func (e Export) Progress() int {
	switch {
	case e.Status == Completed:
		return 100
	case e.Status != Running || e.RowsTotal <= 0:
		return 0
	}
	return int(min(99, 100*e.RowsWritten/e.RowsTotal))
}

// Expired reports whether a completed export can no longer be downloaded.
func (e Export) Expired(now time.Time) bool {
	return e.Status == Completed && !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt)
}

// Key is an export's place in the list, newest first: its creation time,
// then its id, so exports created in the same instant still have a total
// order and a page never repeats or skips one (keyset paging).
type Key struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Key returns e's place in the list.
func (e Export) Key() Key { return Key{CreatedAt: e.CreatedAt, ID: e.ID} }

// Errors the use cases return; the transport maps them to statuses.
var (
	// ErrNotFound: no such export, or it has expired.
	ErrNotFound = errors.New("export not found")
	// ErrNotReady: the export is still queued or running.
	ErrNotReady = errors.New("export not ready yet")
	// ErrFailed: the export failed; Export.Error says why.
	ErrFailed = errors.New("export failed")
	// ErrLeaseLost: another worker took the export over.
	ErrLeaseLost = errors.New("export lease lost")
)

// Store keeps exports. Every method that changes an export's outcome writes
// the event describing it in the same transaction.
type Store interface {
	// Create stores a queued export and the audit event of its request.
	Create(ctx context.Context, e Export, requested events.AuditRecord) error
	// Get returns an export or ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Export, error)
	// List returns at most limit exports not expired at now, newest first
	// (by Key, descending), starting after the key after when it is not nil.
	List(ctx context.Context, after *Key, now time.Time, limit int) ([]Export, error)
	// Claim takes the oldest queued export, or a running one whose lease
	// ran out, marks it running under claim until now+lease and counts the
	// attempt. It reports false when there is nothing to do.
	Claim(ctx context.Context, claim uuid.UUID, lease time.Duration) (Export, bool, error)
	// Heartbeat records progress and extends the lease; ErrLeaseLost when
	// the export is no longer held by claim.
	Heartbeat(ctx context.Context, id, claim uuid.UUID, total, written int64, lease time.Duration) error
	// Complete marks the export completed, records its file (done.File,
	// stored whole before Complete is called, so the row says completed
	// only when the file is there) and writes its completed event.
	Complete(ctx context.Context, id, claim uuid.UUID, done Done, ev events.ExportCompleted) error
	// Fail marks the export failed with reason and writes its failed event.
	Fail(ctx context.Context, id, claim uuid.UUID, reason string, at time.Time, ev FailedData) error
	// Release puts a claimed export back in the queue, to run again no
	// sooner than notBefore; keepAttempt false does not count the run
	// (a graceful shutdown is not the export's fault).
	Release(ctx context.Context, id, claim uuid.UUID, notBefore time.Time, keepAttempt bool) error
	// Expired returns completed exports whose files are due for purging.
	Expired(ctx context.Context, now time.Time, limit int) ([]Export, error)
	// MarkPurged records that an export's file is gone.
	MarkPurged(ctx context.Context, id uuid.UUID, at time.Time) error
}

// Done is the outcome of a successful run.
type Done struct {
	// File is the run's file (RunFile).
	File       string
	Rows       int64
	Size       int64
	FinishedAt time.Time
	ExpiresAt  time.Time
}

// RecordSource streams the projection's records.
type RecordSource interface {
	// Stream reports an estimate of the number of records matching f to
	// total, then calls emit with each record's cells in audit.Columns
	// order, oldest first, from one query. The cells, and the strings in
	// them, are valid only until emit returns: they view the source's
	// buffer, which the next record overwrites (WriteCSV writes each
	// record at once; a copy per record cost a tenth of its client CPU).
	Stream(ctx context.Context, f audit.Filter, total func(int64), emit func(cells []string) error) error
}

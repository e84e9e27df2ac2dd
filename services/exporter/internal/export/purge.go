package export

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Purger deletes the files of expired exports from the bucket and records
// them purged. What a crashed run left behind (a file no row names) is
// not its business: the bucket's TTL (stream.ExportFiles, EXPORT_TTL plus
// a day) removes every file in time.
type Purger struct {
	store Store
	files Files
	m     *Metrics
	log   *slog.Logger
	now   func() time.Time
	every time.Duration
}

// NewPurger returns a purger that runs every interval.
func NewPurger(store Store, files Files, m *Metrics, log *slog.Logger, now func() time.Time, every time.Duration) *Purger {
	return &Purger{store: store, files: files, m: m, log: log.With("component", "export_purger"), now: now, every: every}
}

// Run purges at start and then every interval until ctx ends.
func (p *Purger) Run(ctx context.Context) error {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		if n, err := p.PurgeOnce(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("purge exports", "error", err.Error())
		} else if n > 0 {
			p.log.Info("purged export files", "files", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PurgeOnce deletes what is due and returns how many files it deleted.
func (p *Purger) PurgeOnce(ctx context.Context) (int, error) {
	n := 0
	now := p.now()
	for {
		due, err := p.store.Expired(ctx, now, 100)
		if err != nil {
			return n, fmt.Errorf("list expired exports: %w", err)
		}
		for _, e := range due {
			if IsFile(e.File) {
				if err := p.files.Delete(ctx, e.File); err != nil {
					return n, fmt.Errorf("purge export %s: %w", e.ID, err)
				}
			}
			if err := p.store.MarkPurged(ctx, e.ID, now.UTC()); err != nil {
				return n, fmt.Errorf("purge export %s: %w", e.ID, err)
			}
			n++
			p.m.purged.Inc()
		}
		if len(due) < 100 {
			return n, nil
		}
	}
}

package consume

import (
	"context"
	"fmt"
	"time"

	"github.com/acube/platform/libs/periodic"
)

// The inbox remembers an applied event only as long as the event can come
// back. JetStream keeps a message for its stream's MaxAge; after that no
// delivery (first, redelivery, or a consumer reset that replays the
// stream) can carry it, so its consumed_events row has done its work. A
// runner therefore deletes its own rows older than the stream's MaxAge
// plus a day of margin, once an hour, and the table stays the size of the
// stream's window instead of growing for ever. A stream without MaxAge, or
// Config.InboxRetention < 0, keeps every row.

const (
	deleteInbox = `DELETE FROM consumed_events WHERE consumer = $1 AND consumed_at < now() - make_interval(secs => $2)`

	// inboxMargin is added to the stream's MaxAge: a message published
	// just before its stream dropped it may still be in a handler.
	inboxMargin = 24 * time.Hour
	// purgeEvery is how often a runner purges its inbox rows.
	purgeEvery = time.Hour
)

// inboxRetention is how long the runner keeps its consumed_events rows:
// Config.InboxRetention when set, else the stream's MaxAge plus a margin;
// zero means for ever.
func (r *Runner) inboxRetention(ctx context.Context) (time.Duration, error) {
	switch {
	case r.cfg.InboxRetention < 0:
		return 0, nil
	case r.cfg.InboxRetention > 0:
		return r.cfg.InboxRetention, nil
	}
	s, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", r.cfg.Stream, err)
	}
	maxAge := s.CachedInfo().Config.MaxAge
	if maxAge <= 0 {
		return 0, nil
	}
	return maxAge + inboxMargin, nil
}

// purgeInbox deletes the runner's consumed_events rows older than keep and
// reports how many went.
func (r *Runner) purgeInbox(ctx context.Context, keep time.Duration) (int64, error) {
	tag, err := r.pool.Exec(ctx, deleteInbox, r.cfg.Durable, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge inbox of consumer %s: %w", r.cfg.Durable, err)
	}
	return tag.RowsAffected(), nil
}

// purgeInboxLoop purges the runner's expired inbox rows every purgeEvery
// until ctx ends.
func (r *Runner) purgeInboxLoop(ctx context.Context) {
	keep, err := r.inboxRetention(ctx)
	if err != nil {
		r.log.Warn("inbox retention unknown; keeping every row", "error", err.Error())
		return
	}
	if keep == 0 {
		return
	}
	periodic.Run(ctx, purgeEvery, func(ctx context.Context) {
		if n, err := r.purgeInbox(ctx, keep); err != nil && ctx.Err() == nil {
			r.log.Warn("inbox purge failed", "error", err.Error())
		} else if n > 0 {
			r.log.Info("purged expired inbox rows", "count", n, "older_than", keep.String())
		}
	})
}

package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The relay lock is a session-level advisory lock: PostgreSQL releases it
// the moment the holding session ends, whether the relay stopped, its
// process died or its connection was cut, so a standby takes over within
// LockRetry without any lease to expire.
const tryLock = `SELECT pg_try_advisory_lock($1)`

// acquire returns a connection of its own that holds the schema's relay
// lock, trying every LockRetry; nil when ctx ends first.
func (r *Relay) acquire(ctx context.Context) *pgx.Conn {
	retry := time.NewTicker(r.cfg.LockRetry)
	defer retry.Stop()
	var conn *pgx.Conn
	waiting := false
	for {
		if conn == nil {
			c, err := r.dedicatedConn(ctx)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("outbox relay lock connection", "error", err.Error())
			}
			conn = c
		}
		if conn != nil {
			var held bool
			if err := conn.QueryRow(ctx, tryLock, r.lockID).Scan(&held); err != nil {
				if ctx.Err() == nil {
					r.log.Warn("take outbox relay lock", "error", err.Error())
				}
				closeConn(ctx, conn)
				conn = nil
			} else if held {
				return conn
			} else if !waiting {
				r.log.Info("outbox relay standing by: another replica relays this schema")
				waiting = true
			}
		}
		select {
		case <-ctx.Done():
			if conn != nil {
				closeConn(ctx, conn)
			}
			return nil
		case <-retry.C:
		}
	}
}

// dedicatedConn takes a connection out of the pool for good: the lock and
// the LISTEN belong to its session and must not leak to other users.
func (r *Relay) dedicatedConn(ctx context.Context) (*pgx.Conn, error) {
	c, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire lock connection: %w", err)
	}
	return c.Hijack(), nil
}

func closeConn(ctx context.Context, conn *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = conn.Close(cctx)
}

// watch listens for new rows on the lock connection and turns
// notifications into wake-ups. When none arrives for PollInterval it checks
// the connection with a round trip, so a dead session (terminated, cut off,
// the server restarted) ends the relay's turn within about PollInterval
// even when the socket gives no sign. It returns nil when ctx ends and the
// error otherwise: the lock must be taken as lost.
func (r *Relay) watch(ctx context.Context, conn *pgx.Conn, wake chan<- struct{}) error {
	if _, err := conn.Exec(ctx, "LISTEN "+r.channel); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("listen %s: %w", r.channel, err)
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, r.cfg.PollInterval)
		_, err := conn.WaitForNotification(wctx)
		timedOut := wctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			select {
			case wake <- struct{}{}:
			default: // a wake-up is already pending
			}
		case !timedOut:
			return fmt.Errorf("wait for notification: %w", err)
		default:
			pctx, cancel := context.WithTimeout(ctx, r.cfg.PollInterval+time.Second)
			_, err := conn.Exec(pctx, "SELECT 1")
			cancel()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("check lock connection: %w", err)
			}
		}
	}
}

// standDown zeroes what only the active relay reports, so sums and maxima
// over replicas count the outbox once.
func (r *Relay) standDown() {
	r.m.active.Set(0)
	r.m.backlog.Set(0)
	r.m.oldestAge.Set(0)
	r.m.parked.Set(0)
}

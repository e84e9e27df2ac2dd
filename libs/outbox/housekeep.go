package outbox

import "context"

const (
	// backlogStat reads what the gauges show. The oldest unsent row is
	// the one with the lowest seq: that is what the index gives cheaply,
	// and it is within a transaction's length of the true oldest.
	backlogStat = `
SELECT
  (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL),
  COALESCE((SELECT EXTRACT(EPOCH FROM now() - created_at) FROM outbox
            WHERE sent_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT 1), 0)::float8,
  (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL)`
	purgeSent = `DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)`
)

// refreshGauges reads the backlog and parked rows into the gauges. The
// active relay runs it on a ticker of its own, so the gauges move while NATS
// is down or the relay is busy with a long backlog.
func (r *Relay) refreshGauges(ctx context.Context) {
	var backlog, parked int64
	var age float64
	if err := r.pool.QueryRow(ctx, backlogStat).Scan(&backlog, &age, &parked); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("read outbox backlog", "error", err.Error())
		}
		return
	}
	if ctx.Err() != nil {
		return // stood down meanwhile: standDown's zeros stand
	}
	r.m.backlog.Set(float64(backlog))
	r.m.oldestAge.Set(max(age, 0))
	r.m.parked.Set(float64(parked))
}

// purge deletes sent rows older than Retention; the active relay runs it on
// a ticker of its own, so it keeps up under load.
func (r *Relay) purge(ctx context.Context) {
	if _, err := r.pool.Exec(ctx, purgeSent, r.cfg.Retention.Seconds()); err != nil && ctx.Err() == nil {
		r.log.Warn("purge sent outbox rows", "error", err.Error())
	}
}

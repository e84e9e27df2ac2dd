package ratelimit

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a decision, as counted in gateway_ratelimit_decisions_total.
const (
	OutcomeAllowed       = "allowed"
	OutcomeRefused       = "refused"
	OutcomeShadowRefused = "shadow_refused"
	OutcomeFailedOpen    = "failed_open"
	OutcomeFailedClosed  = "failed_closed"
)

// Limiter decides requests against the current table: in Redis when it has
// one, in process when Redis fails (per tier policy) or is not configured.
type Limiter struct {
	table    atomic.Pointer[Table]
	redis    *Redis // nil: in process only
	local    *Local
	nearFrac float64
	log      *slog.Logger

	decisions *prometheus.CounterVec
	near      *prometheus.CounterVec
	fallbacks *prometheus.CounterVec

	decided  *counterCache // decisions by tier, outcome code × backend
	nearTier *counterCache // near by tier
}

// outcomes are the outcome labels by code.
var outcomes = [...]string{OutcomeAllowed, OutcomeRefused, OutcomeShadowRefused, OutcomeFailedOpen, OutcomeFailedClosed}

// Config is what a Limiter needs besides its backends.
type Config struct {
	// NearLimit is the share of a window's quota used from which an
	// allowed request counts as near the limit (0.8 by default).
	NearLimit float64
}

// New returns a limiter over table. redis may be nil to limit in process
// only; local is the in-process GCRA used then and as the fallback.
func New(table *Table, redis *Redis, local *Local, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Limiter, error) {
	if cfg.NearLimit <= 0 || cfg.NearLimit > 1 {
		cfg.NearLimit = 0.8
	}
	l := &Limiter{
		redis: redis, local: local, nearFrac: cfg.NearLimit, log: log,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_ratelimit_decisions_total",
			Help: "Rate-limit decisions by tier, outcome (allowed, refused, shadow_refused, failed_open, failed_closed) and backend (redis, local, open, closed).",
		}, []string{"tier", "outcome", "backend"}),
		near: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_ratelimit_near_limit_total",
			Help: "Allowed requests after which some window of their tier had used at least the near-limit share of its quota.",
		}, []string{"tier"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_ratelimit_fallbacks_total",
			Help: "Decisions Redis did not make, by tier and the failure policy that made them (local, open, closed).",
		}, []string{"tier", "policy"}),
	}
	l.decided = newCounterCache(l.decisions, func(tier string, code int) []string {
		return []string{tier, outcomes[code/8], Backend(code % 8).String()}
	})
	l.nearTier = newCounterCache(l.near, func(tier string, _ int) []string { return []string{tier} })
	for _, c := range []prometheus.Collector{l.decisions, l.near, l.fallbacks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register limiter metrics: %w", err)
		}
	}
	l.SetTable(table)
	return l, nil
}

// Table is the table in force.
func (l *Limiter) Table() *Table { return l.table.Load() }

// SetTable swaps in a new table; requests being decided finish with the
// old one, none waits. Each tier's series start at zero, so alerts and
// dashboards see a tier before its first near-limit request or fallback.
func (l *Limiter) SetTable(t *Table) {
	for _, name := range t.TierNames() {
		l.near.WithLabelValues(name)
		l.fallbacks.WithLabelValues(name, string(t.Tier(name).OnRedisError))
	}
	l.table.Store(t)
}

// Allow decides a request of client on the route with key route. A route
// without a tier is allowed with BackendNone.
func (l *Limiter) Allow(route, client string) Decision {
	tier := l.table.Load().ForRoute(route)
	if tier == nil {
		return Decision{Allowed: true, Backend: BackendNone}
	}
	var d Decision
	if l.redis == nil {
		d = l.local.Allow(tier, route, client)
	} else {
		var err error
		if d, err = l.redis.Allow(tier, route, client); err != nil {
			d = l.fallback(tier, route, client)
		}
	}
	l.count(&d)
	return d
}

func (l *Limiter) fallback(tier *Tier, route, client string) Decision {
	l.fallbacks.WithLabelValues(tier.Name, string(tier.OnRedisError)).Inc()
	switch tier.OnRedisError {
	case FailOpen:
		return Decision{Tier: tier, Allowed: true, Backend: BackendOpen}
	case FailClosed:
		return Decision{Tier: tier, Allowed: false, Backend: BackendClosed}
	default:
		return l.local.Allow(tier, route, client)
	}
}

func (l *Limiter) count(d *Decision) {
	outcome := 0 // the index in outcomes
	switch {
	case d.Backend == BackendOpen:
		outcome = 3
	case d.Backend == BackendClosed:
		outcome = 4
	case !d.Allowed && d.Tier.Shadow:
		outcome = 2
	case !d.Allowed:
		outcome = 1
	}
	l.decided.get(d.Tier.Name, outcome*8+int(d.Backend)).Inc()
	if d.Allowed && d.Limited() {
		for i, w := range d.Tier.Windows {
			if float64(w.Burst-d.Windows[i].Remaining) >= l.nearFrac*float64(w.Burst) {
				l.nearTier.get(d.Tier.Name, 0).Inc()
				break
			}
		}
	}
}

// Status is the limiter's health, for the readiness probe's detail.
type Status struct {
	// Backend is "redis" or "local" (no Redis configured).
	Backend string `json:"backend"`
	// Breaker is the Redis circuit breaker's state.
	Breaker string `json:"breaker,omitempty"`
	// Degraded is true while tiers use their failure policy.
	Degraded bool `json:"degraded"`
	// DegradedSince is when Redis stopped answering.
	DegradedSince *time.Time `json:"degraded_since,omitempty"`
}

// Status reports the backend in use and whether it is degraded. A degraded
// limiter still serves (that is the point of the fallback), so readiness
// shows it as detail rather than failing.
func (l *Limiter) Status() Status {
	if l.redis == nil {
		return Status{Backend: "local"}
	}
	s := Status{Backend: "redis", Breaker: l.redis.Breaker()}
	if since := l.redis.DegradedSince(); !since.IsZero() {
		s.Degraded, s.DegradedSince = true, &since
	}
	return s
}

// Reload builds a new table from src and swaps it in. On error the table
// in force stays, so a bad edit of the ConfigMap cannot lift the limits.
func (l *Limiter) Reload(src Source) error {
	t, err := src.Load()
	if err != nil {
		return err
	}
	l.SetTable(t)
	return nil
}

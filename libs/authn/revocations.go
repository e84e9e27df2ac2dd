package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/events"
)

// Errors Revocations.Check returns.
var (
	// ErrRevoked is a token whose session or admin was revoked after it
	// was issued (logout, disabled account, changed password or role). It
	// wraps ErrInvalidToken: a client sees 401.
	ErrRevoked = fmt.Errorf("%w: revoked", ErrInvalidToken)
	// ErrRevocationsUnknown means the verifier cannot tell whether a token
	// was revoked: its revocation feed has not caught up with the stream
	// since it started, or has been cut off from NATS for longer than
	// RevocationsConfig.MaxStale. Admin requests are refused with 503
	// (fail closed) until it is current again. It does not wrap
	// ErrInvalidToken: the token may be fine.
	ErrRevocationsUnknown = errors.New("token revocations are not known yet")
)

// RevocationsConfig configures Revocations. Zero values take the defaults
// in brackets.
type RevocationsConfig struct {
	// MaxTokenAge is the longest an access token lives, exp − iat: the
	// admin service's ADMIN_ACCESS_TTL or more [15m, the largest TTL the
	// admin service accepts]. A revocation is kept this long (plus Leeway)
	// after its NotBefore and then dropped, since every token it refuses
	// has expired by then; a token that claims a longer life is refused,
	// so a misconfiguration shows instead of reopening revoked sessions.
	MaxTokenAge time.Duration
	// Leeway is the clock skew tolerated, as the Verifier's [5s].
	Leeway time.Duration
	// MaxStale is how long the feed may be cut off from NATS before
	// tokens are refused with ErrRevocationsUnknown, since a revocation
	// may be missed meanwhile [10s]. A reconnect within it loses nothing:
	// the ordered consumer resumes after the last event it delivered.
	MaxStale time.Duration
	// Stream is the stream the revocations are published on ["ADMIN"].
	Stream string
	// Name names the service in the feed's consumer names and logs, e.g.
	// "booking"; required.
	Name string
	// Poll is how often the feed checks its connection and, until it has
	// caught up, the consumer's backlog [250ms].
	Poll time.Duration
	// Registerer takes the metrics (authn_revocations_*); required.
	Registerer prometheus.Registerer
	// Log receives the feed's state changes; required.
	Log *slog.Logger
	// Now is the clock [time.Now].
	Now func() time.Time
}

func (c *RevocationsConfig) setDefaults() {
	if c.MaxTokenAge <= 0 {
		c.MaxTokenAge = 15 * time.Minute
	}
	if c.Leeway <= 0 {
		c.Leeway = 5 * time.Second
	}
	if c.MaxStale <= 0 {
		c.MaxStale = 10 * time.Second
	}
	if c.Stream == "" {
		c.Stream = "ADMIN"
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration that cannot run.
func (c RevocationsConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("authn: revocations need the service's name"))
	}
	if c.Registerer == nil || c.Log == nil {
		errs = append(errs, errors.New("authn: revocations need a registerer and a logger"))
	}
	return errors.Join(errs...)
}

// Revocations is what a verifier knows of revoked admin sessions: for an
// admin, and for a login session, the time before which its access tokens
// are refused. Entries live only as long as a token they refuse can
// (MaxTokenAge + Leeway after their NotBefore), so the set stays as small
// as the revocations of the last quarter hour. Run fills it from the
// admin.sessions.revoked events; until it has caught up with them, Check
// answers ErrRevocationsUnknown. It is safe for concurrent use.
type Revocations struct {
	cfg RevocationsConfig
	m   *revocationMetrics

	mu       sync.RWMutex
	admins   map[string]revocation // by admin id
	sessions map[string]revocation // by admin id + "/" + session id

	// current is true while the feed has caught up and is connected (or
	// was disconnected for less than MaxStale).
	current atomic.Bool
}

// revocation is one entry: tokens issued before notBefore are refused
// until expires.
type revocation struct {
	notBefore time.Time
	expires   time.Time
}

// NewRevocations builds an empty set that refuses every check until Run
// has caught up with the stream.
func NewRevocations(cfg RevocationsConfig) (*Revocations, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newRevocationMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Revocations{cfg: cfg, m: m, admins: map[string]revocation{}, sessions: map[string]revocation{}}, nil
}

// Revoke applies one revocation. NotBefore is rounded up to the whole
// second, because a token's iat has second precision: every token issued
// up to the revocation is then refused, and so is one issued in the rest
// of that second (a publisher that hands out a token in the same request
// gives it iat = RevokeBefore(now)). A later revocation of the same admin
// or session keeps the later NotBefore. An entry already past its life is
// ignored.
func (r *Revocations) Revoke(d events.SessionsRevoked) {
	nb := RevokeBefore(d.NotBefore)
	e := revocation{notBefore: nb, expires: nb.Add(r.cfg.MaxTokenAge + r.cfg.Leeway)}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !now.Before(e.expires) {
		return
	}
	set, key := r.admins, d.AdminID.String()
	if d.SessionID != "" {
		set, key = r.sessions, sessionKey(d.AdminID.String(), d.SessionID)
	}
	if old, ok := set[key]; !ok || old.notBefore.Before(e.notBefore) {
		set[key] = e
	}
	r.m.active.Set(float64(len(r.admins) + len(r.sessions)))
}

// RevokeBefore is the NotBefore that revokes every token issued up to t:
// t rounded up to the next whole second, since iat has second precision.
func RevokeBefore(t time.Time) time.Time {
	u := t.Truncate(time.Second)
	if u.Before(t) {
		return u.Add(time.Second)
	}
	return u
}

// Check reports whether c may still be used: nil, ErrRevoked (which wraps
// ErrInvalidToken), or ErrRevocationsUnknown while the feed is not current.
// The token's signature and times must have been checked already.
func (r *Revocations) Check(c *Claims) error {
	if !r.current.Load() {
		r.m.refused.WithLabelValues("unknown").Inc()
		return ErrRevocationsUnknown
	}
	if c.IssuedAt == nil || c.ExpiresAt == nil {
		return fmt.Errorf("%w: token has no iat or exp, so its revocation cannot be told", ErrInvalidToken)
	}
	iat := c.IssuedAt.Time
	if life := c.ExpiresAt.Sub(iat); life > r.cfg.MaxTokenAge+r.cfg.Leeway {
		return fmt.Errorf("%w: token lives %s, longer than the %s revocations are kept (ADMIN_ACCESS_TTL_MAX)",
			ErrInvalidToken, life, r.cfg.MaxTokenAge)
	}
	admin := normalID(c.Subject)
	now := r.cfg.Now()
	r.mu.RLock()
	byAdmin, adminRevoked := r.admins[admin]
	bySession, sessionRevoked := revocation{}, false
	if c.SessionID != "" {
		bySession, sessionRevoked = r.sessions[sessionKey(admin, c.SessionID)]
	}
	r.mu.RUnlock()
	if adminRevoked && now.Before(byAdmin.expires) && iat.Before(byAdmin.notBefore) {
		r.m.refused.WithLabelValues("admin").Inc()
		return fmt.Errorf("%w: every session of the admin, before %s", ErrRevoked, byAdmin.notBefore.Format(time.RFC3339))
	}
	if sessionRevoked && now.Before(bySession.expires) && iat.Before(bySession.notBefore) {
		r.m.refused.WithLabelValues("session").Inc()
		return fmt.Errorf("%w: the session, before %s", ErrRevoked, bySession.notBefore.Format(time.RFC3339))
	}
	return nil
}

// Current reports whether the feed is current: caught up with the stream
// and not cut off from NATS for longer than MaxStale. It suits a
// readiness detail.
func (r *Revocations) Current() bool { return r.current.Load() }

// Ready is Current as a readiness check (web.Probes.Detail).
func (r *Revocations) Ready() error {
	if !r.current.Load() {
		return ErrRevocationsUnknown
	}
	return nil
}

// StartupGate is a readiness check that keeps a starting replica out of
// its Service until the feed has caught up once, so the new replica of a
// rolling restart never answers an admin request with 503. It opens
// anyway after maxWait (the revocation stream may not exist yet while the
// admin service is down: public requests must not wait for it), or after
// a third of it while connected reports NATS unreachable (NATS down at
// start: public requests must flow without it; admin requests then get
// 503 from the middleware) — not at once, since a replica that is still
// dialling NATS is not one that cannot reach it. Once it has passed it
// always passes, so a later outage cannot take every replica out of the
// Service at once.
func (r *Revocations) StartupGate(connected func(context.Context) error, maxWait time.Duration) func(context.Context) error {
	var passed atomic.Bool
	start := r.cfg.Now()
	return func(ctx context.Context) error {
		if passed.Load() {
			return nil
		}
		waited := r.cfg.Now().Sub(start)
		if r.current.Load() || waited >= maxWait || (waited >= maxWait/3 && connected(ctx) != nil) {
			passed.Store(true)
			return nil
		}
		return ErrRevocationsUnknown
	}
}

// prune drops the entries past their life, so memory holds only what can
// still refuse a token.
func (r *Revocations) prune(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, set := range []map[string]revocation{r.admins, r.sessions} {
		for k, e := range set {
			if !now.Before(e.expires) {
				delete(set, k)
			}
		}
	}
	r.m.active.Set(float64(len(r.admins) + len(r.sessions)))
}

// size is the number of entries held, expired ones included until pruned.
func (r *Revocations) size() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.admins) + len(r.sessions)
}

func (r *Revocations) setCurrent(v bool, why string) {
	if r.current.Swap(v) == v {
		return
	}
	if v {
		r.m.current.Set(1)
		r.cfg.Log.Info("token revocations current", "reason", why)
	} else {
		r.m.current.Set(0)
		r.cfg.Log.Warn("token revocations not current: admin tokens are refused with 503", "reason", why)
	}
}

func sessionKey(admin, session string) string { return admin + "/" + session }

// normalID writes an admin id as events carry it (uuid.UUID.String), so
// a subject in upper case still matches.
func normalID(s string) string {
	if id, err := uuid.Parse(s); err == nil {
		return id.String()
	}
	return s
}

type revocationMetrics struct {
	applied *prometheus.CounterVec
	refused *prometheus.CounterVec
	active  prometheus.Gauge
	current prometheus.Gauge
	pending prometheus.Gauge
	delay   prometheus.Histogram
}

func newRevocationMetrics(reg prometheus.Registerer) (*revocationMetrics, error) {
	m := &revocationMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authn_revocations_applied_total",
			Help: "admin.sessions.revoked events applied, by reason (logout, disabled, password_changed, role_changed, …).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authn_revocation_refusals_total",
			Help: "Access tokens refused by revocation: admin (every session revoked), session (one session), unknown (feed not current: 503).",
		}, []string{"scope"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "authn_revocations_active",
			Help: "Revocations held (admins and sessions), each until every token it refuses has expired.",
		}),
		current: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "authn_revocation_feed_current",
			Help: "1 while the revocation feed has caught up with the stream and is connected; 0 means admin requests get 503.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "authn_revocation_feed_pending_messages",
			Help: "Revocation events in the stream not yet delivered to the feed (its lag).",
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "authn_revocation_delay_seconds",
			Help:    "From a revocation (revoked_at) to its being applied here, for events that arrive once the feed is current.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	for _, c := range []prometheus.Collector{m.applied, m.refused, m.active, m.current, m.pending, m.delay} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register revocation metrics: %w", err)
		}
	}
	return m, nil
}

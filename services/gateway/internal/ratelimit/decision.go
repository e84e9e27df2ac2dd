package ratelimit

import "time"

// Backend says who made a decision.
type Backend uint8

// The deciders.
const (
	// BackendNone: the route has no limit (or limits are off).
	BackendNone Backend = iota
	// BackendRedis: the shared counters in Redis.
	BackendRedis
	// BackendLocal: the in-process GCRA, by choice or while Redis is down.
	BackendLocal
	// BackendOpen: Redis is down and the tier fails open.
	BackendOpen
	// BackendClosed: Redis is down and the tier fails closed.
	BackendClosed
)

// String names the backend for metrics and logs.
func (b Backend) String() string {
	return [...]string{"none", "redis", "local", "open", "closed"}[b]
}

// WindowState is one window's view after a decision.
type WindowState struct {
	// Remaining is how many more requests the window allows now.
	Remaining int
	// RetryAfter is how long until the window allows one more request;
	// negative when it allowed this one.
	RetryAfter time.Duration
	// ResetAfter is how long until the window is back to its full burst.
	ResetAfter time.Duration
}

// Decision is the verdict on one request. It is a value with a fixed array
// so a decision allocates nothing.
type Decision struct {
	Tier    *Tier
	Allowed bool // every window allowed the request
	Backend Backend
	// Shortcut, for BackendRedis, says whether the decision came from the
	// negative cache or a lease instead of a round trip of its own.
	Shortcut Shortcut
	Windows  [MaxWindows]WindowState
}

// Limited reports whether the decision carries window states (and so rate
// limit headers): false for unlimited routes and fail-open/closed answers.
func (d *Decision) Limited() bool {
	return d.Tier != nil && (d.Backend == BackendRedis || d.Backend == BackendLocal)
}

// Refused reports whether the request must be turned away: refused by a
// window of a tier that is not in shadow mode, or failed closed.
func (d *Decision) Refused() bool {
	if d.Backend == BackendClosed {
		return true
	}
	return !d.Allowed && d.Tier != nil && !d.Tier.Shadow
}

// Tightest returns the index of the window closest to exhaustion (fewest
// remaining; the longer reset on a tie), for the X-RateLimit-* headers.
func (d *Decision) Tightest() int {
	best := 0
	for i := 1; i < len(d.Tier.Windows); i++ {
		w, b := d.Windows[i], d.Windows[best]
		if w.Remaining < b.Remaining || (w.Remaining == b.Remaining && w.ResetAfter > b.ResetAfter) {
			best = i
		}
	}
	return best
}

// Blocking returns the index of the refusing window the client must wait
// longest for, the one named in the 429 body and Retry-After.
func (d *Decision) Blocking() int {
	best := -1
	for i := range len(d.Tier.Windows) {
		if w := d.Windows[i]; w.RetryAfter >= 0 && (best < 0 || w.RetryAfter > d.Windows[best].RetryAfter) {
			best = i
		}
	}
	if best < 0 {
		return d.Tightest()
	}
	return best
}

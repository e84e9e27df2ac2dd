// Package ratelimit decides whether a client may call a route now. Each
// route belongs to a tier; a tier has one or more windows (the seed's
// "10/minute" and "30/hour"), enforced together with GCRA: one Redis round
// trip checks and charges every window of a request, and a request any
// window refuses charges none. Concurrent decisions are batched into one
// script call, so the limiter costs a fraction of a round trip per request.
// Most decisions need none: a key Redis refused stays refused locally until
// its Retry-After (the negative cache), and generous tiers lease a few
// tokens per round trip and spend them in process (shortcut.go).
// When Redis is slow or down, a circuit breaker hands decisions to each
// tier's failure policy: the same GCRA in process (default), open or closed.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxWindows bounds the windows of one tier, so a decision fits in a fixed
// array and needs no allocation.
const MaxWindows = 4

// Window is one GCRA limit: Rate requests per Period, Burst of them at once.
type Window struct {
	Rate   int
	Period time.Duration
	Burst  int

	name   string // RateLimit-Policy item name, e.g. "public-minute"
	detail string // the seed's 429 detail, e.g. "10 per 1 minute"
	limit  string // Rate in decimal, the X-RateLimit-Limit value
	// ei is the emission interval in seconds and offset ei*Burst
	// (redis_rate's burst_offset), computed as the script computes them.
	ei, offset float64
}

// Detail is the seed's wording of the window: "10 per 1 minute".
func (w Window) Detail() string { return w.detail }

// Name is the window's RateLimit-Policy item name: "public-minute".
func (w Window) Name() string { return w.name }

// Limit is Rate in decimal: the X-RateLimit-Limit header's value.
func (w Window) Limit() string { return w.limit }

// emission is GCRA's interval between two requests at the steady rate.
func (w Window) emission() time.Duration { return w.Period / time.Duration(w.Rate) }

// FailurePolicy says what a tier does while Redis cannot answer.
type FailurePolicy string

// The failure policies of DESIGN §2.
const (
	// FailLocal limits in process with the tier's numbers, per replica.
	FailLocal FailurePolicy = "local"
	// FailOpen lets every request through.
	FailOpen FailurePolicy = "open"
	// FailClosed refuses every request with a 503.
	FailClosed FailurePolicy = "closed"
)

func parseFailurePolicy(s string) (FailurePolicy, error) {
	switch p := FailurePolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case FailLocal, FailOpen, FailClosed:
		return p, nil
	case "":
		return FailLocal, nil
	default:
		return "", fmt.Errorf("failure policy %q: want local, open or closed", s)
	}
}

// Tier is a named set of windows shared by some routes.
type Tier struct {
	Name         string
	Windows      []Window
	OnRedisError FailurePolicy
	// Shadow tiers decide and count but never refuse: new numbers can be
	// tried on live traffic.
	Shadow bool

	policyHeader string // the IETF RateLimit-Policy value, fixed per tier
	// redisArgs are the tier's arguments to the script (windows, then
	// burst, rate and period per window), formatted and boxed once.
	redisArgs []any
	// keySuffix ends the tier's Redis keys: its windows' periods in
	// seconds, ":60:3600", so a reload that changes them starts afresh
	// rather than reading TATs packed for other windows.
	keySuffix string
	// sig spells the windows' numbers: cached refusals and leases of a
	// tier whose numbers a reload changed are dropped on sight.
	sig string
	// leaseCap is the most tokens one lease may take (the smallest burst
	// / leaseDivisor); below 2 the tier is strict and never leased.
	leaseCap int
}

// leaseDivisor sizes leases: a lease takes at most 1/16 of the smallest
// burst of its tier, so only generous tiers (burst ≥ 32) lease at all and
// a lease can never hold a large share of a window.
const leaseDivisor = 16

// Leasable reports whether decisions of the tier may be served from
// leased tokens (every window's burst is at least 2×leaseDivisor).
func (t *Tier) Leasable() bool { return t.leaseCap >= 2 }

// PolicyHeader is the tier's IETF draft RateLimit-Policy field value,
// e.g. `"public-minute";q=10;w=60, "public-hour";q=30;w=3600`.
func (t *Tier) PolicyHeader() string { return t.policyHeader }

func newTier(name string, windows []Window, onErr FailurePolicy, shadow bool) (*Tier, error) {
	if len(windows) == 0 || len(windows) > MaxWindows {
		return nil, fmt.Errorf("tier %s: needs 1 to %d windows, has %d", name, MaxWindows, len(windows))
	}
	t := &Tier{Name: name, OnRedisError: onErr, Shadow: shadow}
	seen := map[time.Duration]bool{}
	parts := make([]string, 0, len(windows))
	t.redisArgs = append(t.redisArgs, strconv.Itoa(len(windows)))
	var sig strings.Builder
	t.leaseCap = math.MaxInt
	for _, w := range windows {
		if seen[w.Period] {
			return nil, fmt.Errorf("tier %s: two windows of %s", name, w.Period)
		}
		seen[w.Period] = true
		w.name = name + "-" + periodName(w.Period)
		w.detail = fmt.Sprintf("%d per %s", w.Rate, periodWords(w.Period))
		w.limit = strconv.Itoa(w.Rate)
		secs := strconv.FormatFloat(w.Period.Seconds(), 'f', -1, 64)
		w.ei = w.Period.Seconds() / float64(w.Rate) // tonumber(period) / tonumber(rate)
		w.offset = w.ei * float64(w.Burst)
		t.keySuffix += ":" + secs
		t.Windows = append(t.Windows, w)
		parts = append(parts, fmt.Sprintf("%q;q=%d;w=%d", w.name, w.Rate, int64(w.Period/time.Second)))
		t.redisArgs = append(t.redisArgs, strconv.Itoa(w.Burst), strconv.Itoa(w.Rate), secs)
		fmt.Fprintf(&sig, "%d/%d/%d;", w.Burst, w.Rate, w.Period)
		t.leaseCap = min(t.leaseCap, w.Burst/leaseDivisor)
	}
	t.sig = sig.String()
	t.policyHeader = strings.Join(parts, ", ")
	return t, nil
}

// ParseWindows reads windows in the seed's notation, comma-separated:
// "10/minute,30/hour". A window is N/unit, N per M units, or N/duration
// ("100/90s"); units are second, minute, hour and day. Burst equals rate.
func ParseWindows(s string) ([]Window, error) {
	var out []Window
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		w, err := parseWindow(part)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("limits %q: no window", s)
	}
	return out, nil
}

func parseWindow(s string) (Window, error) {
	var count, per string
	if i := strings.IndexByte(s, '/'); i >= 0 {
		count, per = s[:i], s[i+1:]
	} else if i := strings.Index(s, " per "); i >= 0 {
		count, per = s[:i], s[i+5:]
	} else {
		return Window{}, fmt.Errorf("limit %q: want N/unit, e.g. 10/minute", s)
	}
	rate, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || rate <= 0 {
		return Window{}, fmt.Errorf("limit %q: the count must be a positive integer", s)
	}
	period, err := parsePeriod(strings.TrimSpace(per))
	if err != nil {
		return Window{}, fmt.Errorf("limit %q: %w", s, err)
	}
	if period < time.Second || period%time.Second != 0 {
		return Window{}, fmt.Errorf("limit %q: the period must be whole seconds", s)
	}
	if period/time.Duration(rate) < 1 {
		// GCRA spaces requests period/rate apart; below a nanosecond the
		// interval is zero and the limit meaningless.
		return Window{}, fmt.Errorf("limit %q: more than one request per nanosecond", s)
	}
	return Window{Rate: rate, Period: period, Burst: rate}, nil
}

func parsePeriod(s string) (time.Duration, error) {
	n := 1
	if fields := strings.Fields(s); len(fields) == 2 {
		v, err := strconv.Atoi(fields[0])
		if err != nil || v <= 0 {
			return 0, errors.New("the period count must be a positive integer")
		}
		n, s = v, fields[1]
	}
	unit := map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	if d, ok := unit[strings.TrimSuffix(strings.ToLower(s), "s")]; ok {
		if int64(n) > math.MaxInt64/int64(d) {
			return 0, errors.New("the period is too long")
		}
		return time.Duration(n) * d, nil
	}
	if n == 1 {
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
	}
	return 0, fmt.Errorf("unknown period %q: want second, minute, hour, day or a duration like 90s", s)
}

// periodWords is the seed's wording of a period: "1 minute", "2 hours".
func periodWords(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return d.String()
}

// periodName names a window in RateLimit-Policy: "minute", "hour", "90s".
func periodName(d time.Duration) string {
	switch d {
	case time.Second:
		return "second"
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

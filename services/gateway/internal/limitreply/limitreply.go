// Package limitreply renders the limiter's decisions as HTTP, the same
// way on both data paths (net/http in httpapi, fasthttp in fastpath): the
// seed's X-RateLimit-* headers, the IETF draft RateLimit-Policy and
// RateLimit fields, and the 429 or 503 of a refused request with its log
// line.
package limitreply

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
)

// The header names, in the seed's spelling (not canonicalised).
const (
	HeaderLimit     = "X-RateLimit-Limit"
	HeaderRemaining = "X-RateLimit-Remaining"
	HeaderReset     = "X-RateLimit-Reset"
	HeaderPolicy    = "RateLimit-Policy"
	HeaderRateLimit = "RateLimit"
)

// MsgRateLimited is the seed's 429 wording; its monitoring greps logs for
// the phrase.
const MsgRateLimited = "Rate limit exceeded"

// Names are the rate-limit headers, in the order Append renders their
// values: the X-RateLimit-* fields of the window closest to exhaustion,
// then the RateLimit-Policy and RateLimit fields of every window.
var Names = [...]string{HeaderLimit, HeaderRemaining, HeaderReset, HeaderPolicy, HeaderRateLimit}

// Append appends the value of each of Names for d at now to buf, one
// after the other, and returns buf and where each value ends: value i is
// buf[ends[i-1]:ends[i]], the first from len(buf). d must be Limited.
// (Values, not a callback per header: a callback would make buf escape,
// an allocation per request on the fasthttp path.)
func Append(buf []byte, d *ratelimit.Decision, now time.Time) ([]byte, [len(Names)]int) {
	return appendFields(buf, d, now, false)
}

// AppendLines appends the field lines of Names for d at now to buf, each
// "Name: value" and CRLF, with the values Append renders.
func AppendLines(buf []byte, d *ratelimit.Decision, now time.Time) []byte {
	buf, _ = appendFields(buf, d, now, true)
	return buf
}

// appendFields is Append, and AppendLines when lines is set: each value
// then has its name before it and CRLF after it (ends still mark where
// the values end).
func appendFields(buf []byte, d *ratelimit.Decision, now time.Time, lines bool) ([]byte, [len(Names)]int) {
	var ends [len(Names)]int
	t := d.Tightest()
	tw, ts := d.Tier.Windows[t], d.Windows[t]
	buf = startField(buf, 0, lines)
	buf = append(buf, tw.Limit()...)
	ends[0] = len(buf)
	buf = startField(endField(buf, lines), 1, lines)
	from := len(buf)
	buf = strconv.AppendInt(buf, int64(ts.Remaining), 10)
	ends[1] = len(buf)
	remaining := buf[from:ends[1]] // the tightest window's r=, below
	buf = startField(endField(buf, lines), 2, lines)
	buf = strconv.AppendInt(buf, resetAt(now, ts.ResetAfter), 10)
	ends[2] = len(buf)
	buf = startField(endField(buf, lines), 3, lines)
	buf = append(buf, d.Tier.PolicyHeader()...)
	ends[3] = len(buf)
	buf = startField(endField(buf, lines), 4, lines)
	for i, w := range d.Tier.Windows {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, '"')
		buf = append(buf, w.Name()...)
		buf = append(buf, `";r=`...)
		if i == t {
			buf = append(buf, remaining...)
		} else {
			buf = strconv.AppendInt(buf, int64(d.Windows[i].Remaining), 10)
		}
		buf = append(buf, ";t="...)
		buf = strconv.AppendInt(buf, CeilSeconds(d.Windows[i].ResetAfter), 10)
	}
	ends[4] = len(buf)
	return endField(buf, lines), ends
}

// startField begins field i's line ("Name: "), if lines.
func startField(buf []byte, i int, lines bool) []byte {
	if !lines {
		return buf
	}
	buf = append(buf, Names[i]...)
	return append(buf, ':', ' ')
}

// endField ends a field's line (CRLF), if lines.
func endField(buf []byte, lines bool) []byte {
	if !lines {
		return buf
	}
	return append(buf, '\r', '\n')
}

// resetAt is when a window resetting after d from now is full again, in
// Unix seconds rounded up: now.Add(d).Add(time.Second - 1).Unix(), in
// integers.
func resetAt(now time.Time, d time.Duration) int64 {
	const s = int64(time.Second)
	return (now.UnixNano() + int64(d) + s - 1) / s
}

// CeilSeconds rounds up to whole seconds, never below zero.
func CeilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}

// Refusal is the answer to a request the limiter turned away.
type Refusal struct {
	// Status is 429, or 503 when Redis is down and the tier fails closed.
	Status int
	// RetryAfter is the Retry-After header's value in seconds.
	RetryAfter int64
	// Body is the JSON error.
	Body *web.Error
}

// Refuse logs a refused request (the seed's "Rate limit exceeded" line,
// or the fail-closed warning) and returns its answer. route is the route
// key, client the client's limiter key.
func Refuse(ctx context.Context, log *slog.Logger, d *ratelimit.Decision, route, client, requestID string) Refusal {
	if d.Backend == ratelimit.BackendClosed {
		log.WarnContext(ctx, "rate limiter unavailable, tier fails closed", "tier", d.Tier.Name,
			"route", route, "request_id", requestID)
		return Refusal{Status: http.StatusServiceUnavailable, RetryAfter: 1, Body: &web.Error{Status: http.StatusServiceUnavailable,
			Message: "Service unavailable", Detail: "rate limiting is unavailable; try again shortly"}}
	}
	b := d.Blocking()
	detail := d.Tier.Windows[b].Detail()
	log.WarnContext(ctx, MsgRateLimited, "tier", d.Tier.Name, "route", route,
		"client", client, "limit", detail, "backend", d.Backend.String(),
		"request_id", requestID)
	return Refusal{Status: http.StatusTooManyRequests, RetryAfter: max(CeilSeconds(d.Windows[b].RetryAfter), 1),
		Body: &web.Error{Status: http.StatusTooManyRequests, Message: MsgRateLimited, Detail: detail}}
}

// Shadowed reports whether d is a request a shadow tier would have
// refused (and allowed): one for Shadow to log.
func Shadowed(d *ratelimit.Decision) bool {
	return !d.Allowed && d.Tier != nil && d.Tier.Shadow
}

// Shadow logs a request a shadow tier would have refused, if d says so
// (Shadowed).
func Shadow(ctx context.Context, log *slog.Logger, d *ratelimit.Decision, route, client, requestID string) {
	if !Shadowed(d) {
		return
	}
	log.InfoContext(ctx, "rate limit would be exceeded (shadow mode)", "tier", d.Tier.Name,
		"route", route, "client", client, "limit", d.Tier.Windows[d.Blocking()].Detail(),
		"request_id", requestID)
}

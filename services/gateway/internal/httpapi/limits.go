package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
)

// The seed's 429 wording; its monitoring greps logs for the phrase.
const msgRateLimited = "Rate limit exceeded"

// writeLimitHeaders sets, in the seed's spelling (map keys, not
// canonicalised), the X-RateLimit-* fields for the window
// closest to exhaustion and the IETF draft RateLimit-Policy and RateLimit
// fields for every window.
func writeLimitHeaders(h http.Header, d *ratelimit.Decision) {
	t := d.Tightest()
	tw, ts := d.Tier.Windows[t], d.Windows[t]
	h["X-RateLimit-Limit"] = []string{strconv.Itoa(tw.Rate)}
	h["X-RateLimit-Remaining"] = []string{strconv.Itoa(ts.Remaining)}
	h["X-RateLimit-Reset"] = []string{strconv.FormatInt(time.Now().Add(ts.ResetAfter).Add(time.Second-1).Unix(), 10)}
	h["RateLimit-Policy"] = []string{d.Tier.PolicyHeader()}

	var b strings.Builder
	b.Grow(40 * len(d.Tier.Windows))
	for i, w := range d.Tier.Windows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		b.WriteString(w.Name())
		b.WriteString(`";r=`)
		b.WriteString(strconv.Itoa(d.Windows[i].Remaining))
		b.WriteString(";t=")
		b.WriteString(strconv.FormatInt(ceilSeconds(d.Windows[i].ResetAfter), 10))
	}
	h["RateLimit"] = []string{b.String()}
}

// ceilSeconds rounds up to whole seconds, never below zero.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(d.Seconds()))
}

// refuse answers a request the limiter turned away: the seed's 429, or a
// 503 when Redis is down and the tier fails closed.
func (h *routeHandler) refuse(w http.ResponseWriter, r *http.Request, d *ratelimit.Decision, client clientip.Client) {
	if d.Backend == ratelimit.BackendClosed {
		w.Header().Set("Retry-After", "1")
		h.log.WarnContext(r.Context(), "rate limiter unavailable, tier fails closed", "tier", d.Tier.Name,
			"route", h.key, "request_id", web.RequestID(r.Context()))
		web.WriteJSON(w, http.StatusServiceUnavailable, &web.Error{Status: http.StatusServiceUnavailable,
			Message: "Service unavailable", Detail: "rate limiting is unavailable; try again shortly"})
		return
	}
	b := d.Blocking()
	w.Header().Set("Retry-After", strconv.FormatInt(max(ceilSeconds(d.Windows[b].RetryAfter), 1), 10))
	detail := d.Tier.Windows[b].Detail()
	h.log.WarnContext(r.Context(), msgRateLimited, "tier", d.Tier.Name, "route", h.key,
		"client", client.Key, "limit", detail, "backend", d.Backend.String(),
		"request_id", web.RequestID(r.Context()))
	web.WriteJSON(w, http.StatusTooManyRequests, &web.Error{Status: http.StatusTooManyRequests,
		Message: msgRateLimited, Detail: detail})
}

package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/limitreply"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
)

// writeLimitHeaders sets the rate-limit headers of d (limitreply), in
// the seed's spelling: map keys, not canonicalised.
func writeLimitHeaders(h http.Header, d *ratelimit.Decision) {
	vals, ends := limitreply.Append(nil, d, time.Now())
	from := 0
	for i, name := range limitreply.Names {
		h[name] = []string{string(vals[from:ends[i]])}
		from = ends[i]
	}
}

// refuse answers a request the limiter turned away: the seed's 429, or a
// 503 when Redis is down and the tier fails closed.
func (h *routeHandler) refuse(w http.ResponseWriter, r *http.Request, d *ratelimit.Decision, client clientip.Client) {
	rf := limitreply.Refuse(r.Context(), h.log, d, h.key, client.Key, web.RequestID(r.Context()))
	w.Header().Set("Retry-After", strconv.FormatInt(rf.RetryAfter, 10))
	web.WriteJSON(w, rf.Status, rf.Body)
}

package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
)

// readyWithDetail serves the probes' /readyz with the limiter's state
// added under "ratelimit". A degraded limiter does not fail readiness:
// taking every replica out of the load balancer because Redis is down
// would turn a counter outage into a full one; it is reported instead.
func readyWithDetail(probes http.Handler, limiter *ratelimit.Limiter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
		probes.ServeHTTP(rec, r)
		var body map[string]any
		if limiter == nil || json.Unmarshal(rec.body.Bytes(), &body) != nil || body == nil {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
			return
		}
		body["ratelimit"] = limiter.Status()
		web.WriteJSON(w, rec.status, body)
	}
}

// bufferedResponse captures a handler's answer so it can be extended.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

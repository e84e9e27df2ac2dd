package web

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LogRequest writes the access-log line of one request, as Middleware
// does: method, route pattern, status, duration in milliseconds and
// request id. Servers that are not net/http (the gateway's fasthttp data
// path) call it so both write the same line.
func LogRequest(ctx context.Context, log *slog.Logger, level slog.Level, method, route string, status int, d time.Duration, requestID string) {
	if !log.Enabled(ctx, level) {
		return
	}
	log.LogAttrs(ctx, level, "request",
		slog.String("method", method), slog.String("route", route),
		slog.Int("status", status), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("request_id", requestID))
}

// RouteMetrics records the requests of one route pattern and method in
// the same series as Middleware, for servers that route by themselves
// (the gateway's fasthttp data path). The label lookups are done once,
// when the route is built or a status is first seen, not per request.
type RouteMetrics struct {
	m             *HTTPMetrics
	route, method string
	duration      prometheus.Observer
	// byStatus holds the counter of each status seen so far, by code.
	byStatus [600]atomic.Pointer[prometheus.Counter]
}

// Route returns the recorder of route (a pattern, or "unmatched") and
// method.
func (m *HTTPMetrics) Route(route, method string) *RouteMetrics {
	return &RouteMetrics{m: m, route: route, method: method, duration: m.duration.WithLabelValues(route, method)}
}

// Name is the route label.
func (r *RouteMetrics) Name() string { return r.route }

// Observe counts one request with status that took d.
func (r *RouteMetrics) Observe(status int, d time.Duration) {
	r.counter(status).Inc()
	r.duration.Observe(d.Seconds())
}

func (r *RouteMetrics) counter(status int) prometheus.Counter {
	if status < 0 || status >= len(r.byStatus) {
		return r.m.requests.WithLabelValues(r.route, r.method, strconv.Itoa(status))
	}
	if c := r.byStatus[status].Load(); c != nil {
		return *c
	}
	c := r.m.requests.WithLabelValues(r.route, r.method, strconv.Itoa(status))
	r.byStatus[status].Store(&c)
	return c
}

package web

import (
	"log/slog"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns the process's Prometheus registry, with the Go
// runtime and process collectors every service exports.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// NewRouter returns the router every service starts from: request ids,
// the security headers (SecurityHeaders), metrics and one access-log line
// per request, the JSON 431, 411 and 415 of HeaderLimits, JSON 404 and
// 405 (with Allow), and the /healthz, /readyz and /metrics probes. The
// service mounts its API on it.
func NewRouter(log *slog.Logger, m *HTTPMetrics, probes *Probes) chi.Router {
	r := chi.NewRouter()
	r.Use(RequestIDs, SecurityHeaders, m.Middleware(log), HeaderLimits)
	r.NotFound(NotFoundHandler)
	r.MethodNotAllowed(MethodNotAllowedHandler)
	probes.Mount(r)
	return r
}

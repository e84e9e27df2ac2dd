package web

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency answers.
type Check func(ctx context.Context) error

// Probes serves /healthz, /readyz and /metrics. Readiness means "can serve
// its HTTP API": it is the AND of the checks (PostgreSQL), and false from
// Shutdown on. Details (NATS, streams, consumers) are reported in the body
// of /readyz but never fail it: NATS being down delays events, it does not
// stop a request (DESIGN §1, §4), so it must not take the pod out of its
// Service.
type Probes struct {
	checks   map[string]Check
	details  map[string]Check
	gatherer prometheus.Gatherer
	stopping atomic.Bool
}

// NewProbes builds probes over the named readiness checks and the metrics
// gatherer.
func NewProbes(gatherer prometheus.Gatherer, checks map[string]Check) *Probes {
	return &Probes{checks: checks, details: map[string]Check{}, gatherer: gatherer}
}

// Detail adds a check that /readyz reports under "details" and that turns
// its status to "degraded" while it fails, with the answer still 200. Call
// it while wiring, before the probes serve.
func (p *Probes) Detail(name string, check Check) { p.details[name] = check }

// Shutdown marks the process not ready. The lifecycle calls it before the
// server stops accepting, so a balancer that polls /readyz sees 503 while
// connections are still answered.
func (p *Probes) Shutdown() { p.stopping.Store(true) }

// Mount adds the three endpoints to r.
func (p *Probes) Mount(r chi.Router) {
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", p.ready)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(p.gatherer, promhttp.HandlerOpts{}))
}

// readiness is the body of /readyz.
type readiness struct {
	// Status is ready, degraded (a detail fails), not ready (a check
	// fails) or shutting down.
	Status string `json:"status"`
	// Checks names the failing readiness checks with their errors.
	Checks map[string]string `json:"checks,omitempty"`
	// Details gives every detail's state: "ok" or its error.
	Details map[string]string `json:"details,omitempty"`
}

func (p *Probes) ready(w http.ResponseWriter, r *http.Request) {
	if p.stopping.Load() {
		WriteJSON(w, http.StatusServiceUnavailable, readiness{Status: "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	failed := run(ctx, p.checks)
	body := readiness{Status: "ready"}
	if len(p.details) > 0 {
		body.Details = map[string]string{}
		for name := range p.details {
			body.Details[name] = "ok"
		}
		for name, err := range run(ctx, p.details) {
			body.Details[name] = err
			body.Status = "degraded"
		}
	}
	if len(failed) > 0 {
		body.Status, body.Checks = "not ready", failed
		WriteJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	WriteJSON(w, http.StatusOK, body)
}

// run calls every check at once and returns the errors of those that fail.
func run(ctx context.Context, checks map[string]Check) map[string]string {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		failed = map[string]string{}
	)
	for name, check := range checks {
		wg.Go(func() {
			if err := check(ctx); err != nil {
				mu.Lock()
				failed[name] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}

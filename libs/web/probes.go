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

// Probes serves /healthz, /readyz and /metrics. Readiness is the AND of
// every check, and false from Shutdown on, so load balancers stop sending
// before the server stops accepting.
type Probes struct {
	checks   map[string]Check
	gatherer prometheus.Gatherer
	stopping atomic.Bool
}

// NewProbes builds probes over the named checks and the metrics gatherer.
func NewProbes(gatherer prometheus.Gatherer, checks map[string]Check) *Probes {
	return &Probes{checks: checks, gatherer: gatherer}
}

// Shutdown marks the process not ready.
func (p *Probes) Shutdown() { p.stopping.Store(true) }

// Mount adds the three endpoints to r.
func (p *Probes) Mount(r chi.Router) {
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", p.ready)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(p.gatherer, promhttp.HandlerOpts{}))
}

func (p *Probes) ready(w http.ResponseWriter, r *http.Request) {
	if p.stopping.Load() {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		failed = map[string]string{}
	)
	for name, check := range p.checks {
		wg.Go(func() {
			if err := check(ctx); err != nil {
				mu.Lock()
				failed[name] = err.Error()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "checks": failed})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

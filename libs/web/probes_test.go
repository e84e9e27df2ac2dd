package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// TestReadyz: readiness follows the checks only; a failing detail is
// reported as degraded with the answer still 200, so an outage of NATS
// never takes a service out of its load balancer; Shutdown wins over all.
func TestReadyz(t *testing.T) {
	t.Parallel()
	down := func(context.Context) error { return errors.New("down") }
	up := func(context.Context) error { return nil }
	tests := []struct {
		name        string
		check       Check
		detail      Check
		shutdown    bool
		wantCode    int
		wantStatus  string
		wantDetail  string
		wantFailure string
	}{
		{name: "all up", check: up, detail: up, wantCode: 200, wantStatus: "ready", wantDetail: "ok"},
		{name: "detail down is degraded, still ready", check: up, detail: down, wantCode: 200, wantStatus: "degraded", wantDetail: "down"},
		{name: "check down is not ready", check: down, detail: up, wantCode: 503, wantStatus: "not ready", wantDetail: "ok", wantFailure: "down"},
		{name: "shutting down", check: up, detail: up, shutdown: true, wantCode: 503, wantStatus: "shutting down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := NewProbes(prometheus.NewRegistry(), map[string]Check{"postgres": tt.check})
			p.Detail("nats", tt.detail)
			if tt.shutdown {
				p.Shutdown()
			}
			r := chi.NewRouter()
			p.Mount(r)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var body readiness
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.wantCode || body.Status != tt.wantStatus || body.Details["nats"] != tt.wantDetail || body.Checks["postgres"] != tt.wantFailure {
				t.Errorf("/readyz = %d %s, want %d status %q nats %q postgres failure %q",
					rec.Code, rec.Body.String(), tt.wantCode, tt.wantStatus, tt.wantDetail, tt.wantFailure)
			}
		})
	}
}

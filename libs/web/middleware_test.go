package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMiddlewareLeavesProbesUncounted: probes and scrapes are not traffic,
// so they never reach http_requests_total, while every API request does.
func TestMiddlewareLeavesProbesUncounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), m, NewProbes(reg, nil))
	r.Get("/api/things", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })

	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/api/things", "/api/things"} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	}
	tests := []struct {
		name  string
		route string
		want  float64
	}{
		{name: "api route", route: "/api/things", want: 2},
		{name: "liveness probe", route: "/healthz", want: 0},
		{name: "readiness probe", route: "/readyz", want: 0},
		{name: "scrape", route: "/metrics", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got float64
			for _, status := range []string{"200", "503"} {
				got += testutil.ToFloat64(m.requests.WithLabelValues(tt.route, http.MethodGet, status))
			}
			if got != tt.want {
				t.Errorf("http_requests_total{route=%q} = %v, want %v", tt.route, got, tt.want)
			}
		})
	}
}

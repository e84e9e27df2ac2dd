package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMetricsEndpoint: /metrics of a process's registry exposes the Go
// runtime and process collectors next to the HTTP metrics, in the text
// format Prometheus scrapes; unknown routes and methods answer JSON.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	m, err := NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), m, NewProbes(reg, nil))
	r.Get("/api/soon", NotImplemented)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	get("/api/soon") // one counted request, so the HTTP series exist
	resp, body := get("/metrics")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"go_goroutines ", "process_cpu_seconds_total", `http_requests_total{method="GET",route="/api/soon",status="501"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{path: "/api/soon", wantStatus: http.StatusNotImplemented, wantBody: `"detail":"GET /api/soon is not available yet"`},
		{path: "/healthz", wantStatus: http.StatusOK, wantBody: `{"status":"ok"}`},
		{path: "/api/none", wantStatus: http.StatusNotFound, wantBody: `"detail":"no route for GET /api/none"`},
	}
	for _, tt := range tests {
		resp, body := get(tt.path)
		if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, tt.wantBody) {
			t.Errorf("GET %s = %d %s %s, want %d JSON with %s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.wantStatus, tt.wantBody)
		}
	}
	if got := Errorf(http.StatusConflict, "Conflict", "event %d is full", 7).Error(); got != "409 Conflict: event 7 is full" {
		t.Errorf("Errorf(...).Error() = %q", got)
	}
}

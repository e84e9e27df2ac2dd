package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// logLines decodes the JSON log lines in b.
func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestMiddlewarePanics: a handler that panics before answering gets the
// JSON 500 of DESIGN §2, logged with its request id and counted as a 500
// of its route; one that panics after answering keeps its status (a
// second header would be a superfluous WriteHeader); the process lives.
func TestMiddlewarePanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantJSON   bool
	}{
		{
			name:       "panic before answering",
			handler:    func(http.ResponseWriter, *http.Request) { panic("boom") },
			wantStatus: http.StatusInternalServerError,
			wantJSON:   true,
		},
		{
			name: "panic after answering",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				panic(errors.New("late boom"))
			},
			wantStatus: http.StatusAccepted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			reg := prometheus.NewRegistry()
			m, err := NewHTTPMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			r := NewRouter(slog.New(slog.NewJSONHandler(&logs, nil)), m, NewProbes(reg, nil))
			r.Post("/api/things/{id}", tt.handler)
			req := httptest.NewRequest(http.MethodPost, "/api/things/42", nil)
			req.Header.Set(HeaderRequestID, "req-panic")
			req.Header.Set("Content-Length", "0")
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantJSON {
				var body Error
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Message != "Internal server error" {
					t.Errorf("body %q (%v), want the JSON 500", rec.Body.String(), err)
				}
				if strings.Contains(rec.Body.String(), "boom") {
					t.Errorf("body %q shows the panic to the client", rec.Body.String())
				}
			}
			status := strconv.Itoa(tt.wantStatus)
			if got := testutil.ToFloat64(m.requests.WithLabelValues("/api/things/{id}", http.MethodPost, status)); got != 1 {
				t.Errorf("http_requests_total{route=/api/things/{id},status=%s} = %v, want 1", status, got)
			}
			var panicked, access bool
			for _, l := range logLines(t, &logs) {
				switch l["msg"] {
				case "handler panicked":
					panicked = l["request_id"] == "req-panic" && l["level"] == "ERROR"
				case "request":
					access = l["route"] == "/api/things/{id}" && l["status"] == float64(tt.wantStatus) && l["request_id"] == "req-panic"
				}
			}
			if !panicked || !access {
				t.Errorf("logs (panic logged %v, access line %v):\n%s", panicked, access, logs.String())
			}
		})
	}
}

// TestMiddlewareLetsAbortHandlerThrough: http.ErrAbortHandler is how a
// handler asks net/http to drop the connection silently; the middleware
// must re-panic it, not turn it into a 500.
func TestMiddlewareLetsAbortHandlerThrough(t *testing.T) {
	t.Parallel()
	m, err := NewHTTPMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h := m.Middleware(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler re-panicked", p)
		}
		if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
			t.Errorf("answered %d %q, want nothing written", rec.Code, rec.Body.String())
		}
	}()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
}

// TestMiddlewareLabels: requests are labelled by route pattern, never by
// raw path; unknown paths share one "unmatched" label; a handler that
// writes without WriteHeader is a 200.
func TestMiddlewareLabels(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(slog.New(slog.DiscardHandler), m, NewProbes(reg, nil))
	r.Get("/api/events/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) })
	for _, path := range []string{"/api/events/1", "/api/events/2", "/nope/1", "/nope/2"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	tests := []struct {
		route, status string
		want          float64
	}{
		{route: "/api/events/{id}", status: "200", want: 2},
		{route: "unmatched", status: "404", want: 2},
	}
	for _, tt := range tests {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tt.route, http.MethodGet, tt.status)); got != tt.want {
			t.Errorf("http_requests_total{route=%q,status=%s} = %v, want %v", tt.route, tt.status, got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 2 {
		t.Errorf("%d request series, want 2 (no raw paths)", n)
	}
	if _, err := NewHTTPMetrics(reg); err == nil {
		t.Error("registering the HTTP metrics twice on one registry succeeded")
	}
}

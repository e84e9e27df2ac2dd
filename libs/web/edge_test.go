package web

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// testRouter is a service's router with a few routes, one mounted.
func testRouter(t *testing.T) chi.Router {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), m, NewProbes(reg, nil))
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	r.Get("/api/things", ok)
	r.Post("/api/things", ok)
	r.Patch("/api/things/{id}/status", ok)
	r.Route("/api/admin", func(r chi.Router) {
		r.Delete("/jobs/{id}", ok)
		r.Get("/jobs/{id}", ok)
	})
	return r
}

// TestMethodNotAllowed: a path the service has, with a method it does
// not, is a JSON 405 whose Allow lists the path's methods, HEAD and
// OPTIONS included and in mounted routers too; a path it does not have is
// a JSON 404 whatever the method.
func TestMethodNotAllowed(t *testing.T) {
	r := testRouter(t)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{name: "allowed", method: "GET", path: "/api/things", wantStatus: 204},
		{name: "other method", method: "DELETE", path: "/api/things", wantStatus: 405, wantAllow: "GET, POST"},
		{name: "HEAD", method: "HEAD", path: "/api/things", wantStatus: 405, wantAllow: "GET, POST"},
		{name: "OPTIONS", method: "OPTIONS", path: "/api/things", wantStatus: 405, wantAllow: "GET, POST"},
		{name: "with a parameter", method: "PUT", path: "/api/things/t1/status", wantStatus: 405, wantAllow: "PATCH"},
		{name: "in a mounted router", method: "POST", path: "/api/admin/jobs/j1", wantStatus: 405, wantAllow: "GET, DELETE"},
		{name: "a probe", method: "POST", path: "/healthz", wantStatus: 405, wantAllow: "GET"},
		{name: "unknown path", method: "OPTIONS", path: "/api/nothing", wantStatus: 404},
		{name: "unknown method on an unknown path", method: "BREW", path: "/api/nothing", wantStatus: 404},
		{name: "unknown method on a known path", method: "BREW", path: "/api/things", wantStatus: 405, wantAllow: "GET, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if tt.wantStatus >= 400 {
				assertJSONError(t, rec.Header(), rec.Body.Bytes())
			}
		})
	}
}

func assertJSONError(t *testing.T, h http.Header, body []byte) Error {
	t.Helper()
	var e Error
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Message == "" || e.Detail == "" {
		t.Errorf("body %q is not a JSON error with a detail: %v", body, err)
	}
	return e
}

// TestHeaderLimits: what net/http accepts but the API does not is refused
// before any handler with a JSON error.
func TestHeaderLimits(t *testing.T) {
	reached := false
	h := HeaderLimits(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.WriteHeader(http.StatusNoContent)
	}))
	big := strings.Repeat("x", MaxHeaderBytes)
	tests := []struct {
		name       string
		proto      string
		method     string
		body       string
		header     map[string]string
		wantStatus int
		wantHeader [2]string
	}{
		{name: "plain", method: "GET", wantStatus: 204},
		{name: "large headers within the limit", method: "GET", header: map[string]string{"Cookie": big[:MaxHeaderBytes-200]}, wantStatus: 204},
		{name: "headers past the limit", method: "GET", header: map[string]string{"Cookie": big}, wantStatus: 431, wantHeader: [2]string{"Connection", "close"}},
		{name: "many small headers past the limit", method: "GET", header: manyHeaders(2000), wantStatus: 431},
		{name: "HTTP/1.0 body without length", proto: "HTTP/1.0", method: "POST", wantStatus: 411},
		{name: "HTTP/1.0 body with length", proto: "HTTP/1.0", method: "POST", body: "{}", header: map[string]string{"Content-Length": "2"}, wantStatus: 204},
		{name: "HTTP/1.0 GET", proto: "HTTP/1.0", method: "GET", wantStatus: 204},
		{name: "HTTP/1.1 POST without a body", method: "POST", wantStatus: 204},
		{name: "gzip body", method: "POST", body: "{}", header: map[string]string{"Content-Encoding": "gzip"}, wantStatus: 415, wantHeader: [2]string{"Accept-Encoding", "identity"}},
		{name: "deflate body", method: "PUT", body: "{}", header: map[string]string{"Content-Encoding": "deflate"}, wantStatus: 415},
		{name: "identity body", method: "POST", body: "{}", header: map[string]string{"Content-Encoding": "identity"}, wantStatus: 204},
		{name: "gzip without a body", method: "GET", header: map[string]string{"Content-Encoding": "gzip"}, wantStatus: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/api/things", strings.NewReader(tt.body))
			if tt.body == "" {
				req.Body, req.ContentLength = http.NoBody, 0
			}
			if tt.proto == "HTTP/1.0" {
				req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.0", 1, 0
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			reached = false
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if reached != (tt.wantStatus < 400) {
				t.Errorf("handler reached = %v", reached)
			}
			if tt.wantStatus >= 400 {
				assertJSONError(t, rec.Header(), rec.Body.Bytes())
			}
			if k := tt.wantHeader[0]; k != "" && rec.Header().Get(k) != tt.wantHeader[1] {
				t.Errorf("%s = %q, want %q", k, rec.Header().Get(k), tt.wantHeader[1])
			}
		})
	}
}

func manyHeaders(n int) map[string]string {
	h := make(map[string]string, n)
	for i := range n {
		h["X-H"+strings.Repeat("a", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))] = "0123456789"
	}
	return h
}

// TestServerHeaderCaps: through a real NewServer, headers between
// MaxHeaderBytes and HardMaxHeaderBytes get the API's JSON 431; only past
// the hard cap does net/http answer with its own plain-text one.
func TestServerHeaderCaps(t *testing.T) {
	srv := NewServer("", testRouter(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	tests := []struct {
		name       string
		size       int
		wantStatus int
		wantType   string
	}{
		{name: "within the limit", size: 1000, wantStatus: 204},
		{name: "past the limit", size: MaxHeaderBytes + 1, wantStatus: 431, wantType: "application/json"},
		{name: "just under the hard cap", size: HardMaxHeaderBytes - 200, wantStatus: 431, wantType: "application/json"},
		{name: "past the hard cap", size: HardMaxHeaderBytes + 8192, wantStatus: 431, wantType: "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(time.Minute)) // a hang fails, never stalls, the test
			req := "GET /api/things HTTP/1.1\r\nHost: svc\r\nCookie: " + strings.Repeat("c", tt.size) + "\r\n\r\n"
			go func() { _, _ = io.WriteString(conn, req) }()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, b)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
			if tt.wantType == "application/json" {
				assertJSONError(t, resp.Header, b)
			}
		})
	}
}

// TestServerStalledBody: a service's handler decoding a body that stops
// arriving answers a JSON 408 when the server's read timeout fires (here
// shortened from ReadTimeout), instead of hanging or blaming the JSON.
func TestServerStalledBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var f form
		if err := Decode(w, r, 1024, &f); err != nil {
			WriteError(w, r, slog.New(slog.NewJSONHandler(io.Discard, nil)), err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := NewServer("", h)
	srv.ReadTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // a hang fails, never stalls, the test
	if _, err := io.WriteString(conn, "POST /x HTTP/1.1\r\nHost: svc\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"email\":"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408; body %s", resp.StatusCode, b)
	}
	assertJSONError(t, resp.Header, b)
}

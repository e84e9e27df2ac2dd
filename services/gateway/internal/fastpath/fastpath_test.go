package fastpath

import (
	"context"
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

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/openapi"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/route"
)

// TestRouterMatchesChi checks the tree router against chi on the real
// route table: same route (or none) for every path, same Allow set.
func TestRouterMatchesChi(t *testing.T) {
	t.Parallel()
	var rt router
	c := chi.NewRouter()
	for _, r := range append(route.Table(), route.Served()...) {
		rt.add(r, &entry{pattern: r.Pattern, method: r.Method})
		c.Method(r.Method, r.Pattern, http.NotFoundHandler())
	}
	paths := []string{"/api/events", "/api/events/", "/api/events/42", "/api/events/42/image",
		"/api/sessions/book", "/api/sessions/7", "/api/sessions/7/cancel", "/api/admin/bulk/export/users",
		"/api/admin/exports/1/download", "/api/docs", "/api/docs/init.js", "/api/openapi.json", "/", "/api",
		"/api/admin/auth/jwks.json", "/manage/sessions/x/cancel", "/api/unknown", "/api/events/1/2/3",
		"/api/events/" + strings.Repeat("x", maxLiteralKey) + "/image"} // past the literal routes' keys
	for _, p := range paths {
		for _, m := range allowOrder {
			var got string
			if e := rt.find([]byte(m), []byte(p)); e != nil {
				got = e.pattern
			}
			rc := chi.NewRouteContext()
			want := ""
			if c.Match(rc, m, p) {
				want = rc.RoutePattern()
			}
			if got != want {
				t.Errorf("%s %s: router %q, chi %q", m, p, got, want)
			}
		}
	}
}

func TestCleanPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want bool
	}{
		{"/api/events", true},
		{"/api/events/", true},
		{"/", true},
		{"", false},
		{"api", false},
		{"/api//events", false},
		{"/api/./events", false},
		{"/api/../metrics", false},
		{"/api/%2e%2E/metrics", false},
		{"/api/.%2e/metrics", false},
		{"/api/events/..", false},
		{"/api/a%2Fb", false},
		{"/api/events/a.b", true},
		{"/api/events/...", true},
	}
	for _, tt := range tests {
		if got := cleanPath([]byte(tt.path)); got != tt.want {
			t.Errorf("cleanPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// start serves the data path in front of upstream on a free port.
func start(t *testing.T, upstreams map[route.Owner]string) string {
	t.Helper()
	return startWith(t, upstreams, nil, time.Second)
}

// startWith is start with a limiter and a body read timeout.
func startWith(t *testing.T, upstreams map[route.Owner]string, limiter *ratelimit.Limiter, bodyWait time.Duration) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := web.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := clientip.New(clientip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Routes: route.Table(), Upstreams: upstreams, Clients: clients, Metrics: m, Docs: openapi.Mount,
		MaxBody: 1 << 10, MaxUploadBody: 4 << 10, Log: slog.New(slog.DiscardHandler), Limiter: limiter,
		BodyReadTimeout: bodyWait, ResponseHeaderTimeout: 300 * time.Millisecond}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		_ = s.Close()
	})
	return "http://" + ln.Addr().String()
}

func TestIntegrationProxy(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", "echo")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`","xff":"`+r.Header.Get("X-Forwarded-For")+`","rid":"`+r.Header.Get("X-Request-ID")+`"}`)
	}))
	t.Cleanup(up.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	base := start(t, map[route.Owner]string{route.Booking: up.URL, route.Admin: dead.URL, route.Exporter: up.URL})

	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // in the body
	}{
		{name: "proxied", method: "GET", path: "/api/events", status: 200, want: `"xff":"127.0.0.1"`},
		{name: "request id passed", method: "GET", path: "/api/events/7", status: 200, want: `"rid":"given-id"`},
		{name: "unknown path", method: "GET", path: "/api/nope", status: 404, want: "no route for GET /api/nope"},
		{name: "dot segment", method: "GET", path: "/api/events/%2e%2e/x", status: 404},
		{name: "wrong method", method: "DELETE", path: "/api/events", status: 405, want: "use GET, POST"},
		{name: "upstream down", method: "GET", path: "/api/admin/me", status: 503, want: "admin service is not reachable"},
		{name: "too large", method: "POST", path: "/api/contact", body: strings.Repeat("x", 2<<10), status: 413},
		{name: "upload fits", method: "PUT", path: "/api/events/1/image", body: strings.Repeat("x", 2<<10), status: 200},
		{name: "docs", method: "GET", path: "/api/openapi.json", status: 200, want: `"openapi"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Request-ID", "given-id")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("%d %s, want %d with %q", resp.StatusCode, b, tt.status, tt.want)
			}
			if got := resp.Header.Values("X-Request-ID"); len(got) != 1 || got[0] != "given-id" {
				t.Errorf("X-Request-ID %q", got)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Server") != "" ||
				len(resp.Header.Values("Date")) != 1 {
				t.Errorf("headers %v", resp.Header)
			}
			if resp.StatusCode >= 400 {
				var e map[string]any
				if err := json.Unmarshal(b, &e); err != nil || e["error"] == nil {
					t.Errorf("not a JSON error: %s", b)
				}
			}
		})
	}
}

// TestMintedRequestIDs: minted ids are valid request ids, 32 hex digits,
// each different, and cost no allocation.
func TestMintedRequestIDs(t *testing.T) {
	s := newIDSource()
	var buf [128]byte
	seen := map[string]bool{}
	for range 1000 {
		id := s.next(&buf)
		if len(id) != 32 || !web.ValidRequestIDBytes(id) || strings.Trim(string(id), "0123456789abcdef") != "" {
			t.Fatalf("id %q", id)
		}
		if seen[string(id)] {
			t.Fatalf("id %q minted twice", id)
		}
		seen[string(id)] = true
	}
	if n := testing.AllocsPerRun(100, func() { s.next(&buf) }); n != 0 {
		t.Errorf("next allocates %.0f times", n)
	}
}

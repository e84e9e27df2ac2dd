package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/openapi"
	"github.com/acube/platform/services/gateway/internal/route"
)

// TestInternalPort: the gateway's probes and metrics answer on the
// internal handler and nowhere on the public one; the internal handler
// proxies nothing.
func TestInternalPort(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{})
	tests := []struct {
		name, base, path string
		wantStatus       int
		wantBody         string
	}{
		{name: "internal healthz", base: g.Internal, path: "/healthz", wantStatus: 200, wantBody: `"ok"`},
		{name: "internal readyz", base: g.Internal, path: "/readyz", wantStatus: 200, wantBody: `"ratelimit"`},
		{name: "internal metrics", base: g.Internal, path: "/metrics", wantStatus: 200, wantBody: "gateway_ratelimit_decisions_total"},
		{name: "internal proxies nothing", base: g.Internal, path: "/api/events", wantStatus: 404},
		{name: "public metrics", base: g.URL, path: "/metrics", wantStatus: 404},
		{name: "public healthz", base: g.URL, path: "/healthz", wantStatus: 404},
		{name: "public readyz", base: g.URL, path: "/readyz", wantStatus: 404},
	}
	// One decision, so the limiter's counters exist.
	if resp, _ := do(t, "GET", g.URL+"/api/events", "", nil); resp.StatusCode != 200 {
		t.Fatalf("GET /api/events = %d", resp.StatusCode)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := do(t, "GET", tt.base+tt.path, "", nil)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("%s = %d %.200s, want %d with %q", tt.path, resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestSecurityHeadersThroughTheGateway: what a service says about caching
// reaches the client once and unchanged; the gateway's own answers (404,
// 413, 429, a dead upstream's 503) say nosniff and no-store too.
func TestSecurityHeadersThroughTheGateway(t *testing.T) {
	t.Parallel()
	booking := httptest.NewServer(web.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/image") {
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte("\x89PNG"))
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]string{"email": "booker@example.org"})
	})))
	t.Cleanup(booking.Close)
	g := newGateway(t, gwOptions{upstreams: map[route.Owner]string{route.Booking: booking.URL, route.Exporter: "http://127.0.0.1:1"}, maxBody: 64})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCache, wantCSP       string
	}{
		{name: "personal data from a service", method: "GET", path: "/api/sessions/s1", wantStatus: 200, wantCache: web.NoStore, wantCSP: web.APIContentSecurityPolicy},
		{name: "a public image keeps its caching", method: "GET", path: "/api/events/e1/image", wantStatus: 200, wantCache: "public, max-age=300", wantCSP: "default-src 'none'; sandbox"},
		{name: "admin list from the admin service", method: "GET", path: "/api/admin/audit-logs", wantStatus: 200, wantCache: web.NoStore, wantCSP: web.APIContentSecurityPolicy},
		{name: "gateway 404", method: "GET", path: "/api/nothing", wantStatus: 404, wantCache: web.NoStore, wantCSP: web.APIContentSecurityPolicy},
		{name: "gateway 413", method: "POST", path: "/api/contact", body: strings.Repeat("x", 200), wantStatus: 413, wantCache: web.NoStore, wantCSP: web.APIContentSecurityPolicy},
		{name: "upstream down", method: "GET", path: "/api/admin/exports", wantStatus: 503, wantCache: web.NoStore, wantCSP: web.APIContentSecurityPolicy},
		{name: "the OpenAPI document is public", method: "GET", path: "/api/openapi.json", wantStatus: 200, wantCache: "public, max-age=300", wantCSP: web.APIContentSecurityPolicy},
		{name: "the docs page has its own policy", method: "GET", path: "/api/docs", wantStatus: 200, wantCache: "public, no-cache", wantCSP: openapi.DocsCSP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := do(t, tt.method, g.URL+tt.path, tt.body, nil)
			h := resp.Header
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := h.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want one nosniff", got)
			}
			if got := h.Values("Cache-Control"); len(got) != 1 || got[0] != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
			}
			if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != tt.wantCSP {
				t.Errorf("Content-Security-Policy = %q, want %q", got, tt.wantCSP)
			}
		})
	}
	// A 429 too.
	limited := newGateway(t, gwOptions{})
	var last *http.Response
	for range 12 {
		last, _ = do(t, "POST", limited.URL+"/api/contact", "{}", nil)
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("X-Content-Type-Options") != "nosniff" || last.Header.Get("Cache-Control") != web.NoStore {
		t.Errorf("429: %d, nosniff %q, Cache-Control %q", last.StatusCode, last.Header.Get("X-Content-Type-Options"), last.Header.Get("Cache-Control"))
	}
}

// TestDocsAssets: Swagger UI's files come from the gateway with their
// real types (nosniff makes the browser insist on them), revalidate by
// ETag, and nothing else is served under /api/docs/.
func TestDocsAssets(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true})
	tests := []struct {
		path, wantType, wantBody string
		wantStatus               int
	}{
		{path: "/api/docs", wantType: "text/html; charset=utf-8", wantBody: `<script src="/api/docs/init.js">`, wantStatus: 200},
		{path: "/api/docs/init.js", wantType: "text/javascript; charset=utf-8", wantBody: "SwaggerUIBundle", wantStatus: 200},
		{path: "/api/docs/swagger-ui-bundle.js", wantType: "text/javascript; charset=utf-8", wantBody: "SwaggerUIBundle", wantStatus: 200},
		{path: "/api/docs/swagger-ui.css", wantType: "text/css; charset=utf-8", wantBody: ".swagger-ui", wantStatus: 200},
		{path: "/api/docs/index.html", wantStatus: 404},
		{path: "/api/docs/README.md", wantStatus: 404},
		{path: "/api/docs/LICENSE", wantStatus: 404},
		{path: "/api/docs/..%2fopenapi.json", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, b := do(t, "GET", g.URL+tt.path, "", nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.wantType || !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("Content-Type %q, body has %q: %v", ct, tt.wantBody, strings.Contains(string(b), tt.wantBody))
			}
			etag := resp.Header.Get("Etag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			resp, b = do(t, "GET", g.URL+tt.path, "", map[string]string{"If-None-Match": etag})
			if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
				t.Errorf("revalidation: %d with %d bytes, want 304", resp.StatusCode, len(b))
			}
		})
	}
	// The page loads nothing from another origin.
	_, page := do(t, "GET", g.URL+"/api/docs", "", nil)
	for _, bad := range []string{"http://", "https://", "//cdn", "<script>", "onload="} {
		if strings.Contains(string(page), bad) {
			t.Errorf("docs page contains %q", bad)
		}
	}
}

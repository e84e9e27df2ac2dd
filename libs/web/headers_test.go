package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSecurityHeaders: every answer of a service's router says nosniff;
// one whose handler chose no caching or CSP gets no-store and the API
// policy, one that chose its own keeps it, whatever way the handler ends.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRouter(slog.New(slog.NewJSONHandler(io.Discard, nil)), m, NewProbes(reg, nil))
	r.Get("/api/admin/sessions", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"email": "someone@example.org"})
	})
	r.Get("/api/events/1/image", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write([]byte("\x89PNG"))
	})
	r.Post("/api/nothing", func(http.ResponseWriter, *http.Request) {})
	r.Get("/api/panics", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.Get("/api/hints", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/api/stream", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "private, no-store")
		_, _ = w.Write([]byte("a,b\n"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the middleware: %v", err)
		}
	})

	tests := []struct {
		name, method, path string
		wantStatus         int
		wantCache, wantCSP string
	}{
		{name: "personal data", method: http.MethodGet, path: "/api/admin/sessions", wantStatus: 200, wantCache: NoStore, wantCSP: APIContentSecurityPolicy},
		{name: "public image keeps its own", method: http.MethodGet, path: "/api/events/1/image", wantStatus: 200, wantCache: "public, max-age=300", wantCSP: "default-src 'none'; sandbox"},
		{name: "handler writes nothing", method: http.MethodPost, path: "/api/nothing", wantStatus: 200, wantCache: NoStore, wantCSP: APIContentSecurityPolicy},
		{name: "panic answered 500", method: http.MethodGet, path: "/api/panics", wantStatus: 500, wantCache: NoStore, wantCSP: APIContentSecurityPolicy},
		{name: "early hints then the answer", method: http.MethodGet, path: "/api/hints", wantStatus: 204, wantCache: NoStore, wantCSP: APIContentSecurityPolicy},
		{name: "streamed export", method: http.MethodGet, path: "/api/stream", wantStatus: 200, wantCache: "private, no-store", wantCSP: APIContentSecurityPolicy},
		{name: "404", method: http.MethodGet, path: "/api/unknown", wantStatus: 404, wantCache: NoStore, wantCSP: APIContentSecurityPolicy},
		{name: "405", method: http.MethodDelete, path: "/api/admin/sessions", wantStatus: 405, wantCache: NoStore, wantCSP: APIContentSecurityPolicy},
		{name: "probe", method: http.MethodGet, path: "/readyz", wantStatus: 200, wantCache: NoStore, wantCSP: APIContentSecurityPolicy},
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
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
}

// TestSecurityHeadersBehindAReverseProxy: a proxy that uses the middleware
// too (the gateway) passes a service's headers on once and unchanged, and
// fills in the defaults only where the service sent none.
func TestSecurityHeadersBehindAReverseProxy(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/jwks":
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Header().Set("X-Content-Type-Options", "nosniff")
		case "/api/secured":
			SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
			})).ServeHTTP(w, r)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	}))
	t.Cleanup(upstream.Close)
	target, _ := url.Parse(upstream.URL)
	gateway := httptest.NewServer(SecurityHeaders(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}))
	t.Cleanup(gateway.Close)

	tests := []struct {
		path, wantCache string
	}{
		{path: "/api/jwks", wantCache: "public, max-age=300"},
		{path: "/api/secured", wantCache: NoStore},
		{path: "/api/bare", wantCache: NoStore},
	}
	for _, tt := range tests {
		resp, err := gateway.Client().Get(gateway.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("Cache-Control"); len(got) != 1 || got[0] != tt.wantCache {
			t.Errorf("%s: Cache-Control = %q, want %q", tt.path, got, tt.wantCache)
		}
		if got := resp.Header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q, want one nosniff", tt.path, got)
		}
		if got := resp.Header.Values("Content-Security-Policy"); len(got) != 1 {
			t.Errorf("%s: Content-Security-Policy = %q, want one", tt.path, got)
		}
	}
}

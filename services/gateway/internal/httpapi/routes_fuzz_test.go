package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/proxy"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/route"
)

// FuzzRouteKey sends arbitrary methods, request targets and
// X-Forwarded-For headers through the gateway's router, with the
// in-process limiter and recording upstreams: a request reaches an owner
// only on a clean /api path, the client address forwarded is never empty,
// and answers are never 5xx.
func FuzzRouteKey(f *testing.F) {
	for _, s := range [][3]string{
		{"POST", "/api/sessions/book", "203.0.113.7"}, {"GET", "/api/admin/../../metrics", ""},
		{"GET", "/api/admin/exports/%2e%2e/%2e%2e/healthz", ""}, {"GET", "/api//sessions", ""},
		{"PATCH", "/api/sessions/x/status", "1.1.1.1, 10.0.0.1"}, {"DELETE", "/api/admin/exports/1", "garbage"},
		{"GET", "/api/admin/bulk/export/sessions?x=1", ""}, {"GET", "/readyz", ""}, {"GET", "/api/events/%2F", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	reg := prometheus.NewRegistry()
	metrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	clients, err := clientip.New(clientip.Config{TrustedProxies: []string{"127.0.0.0/8", "192.0.2.0/24"}, IPv6Prefix: 64})
	if err != nil {
		f.Fatal(err)
	}
	routes := route.Table()
	keys := make([]string, 0, len(routes))
	for _, r := range routes {
		keys = append(keys, r.Key())
	}
	table, err := ratelimit.Source{Default: gateway.DefaultRateLimits(), RouteKeys: keys}.Load()
	if err != nil {
		f.Fatal(err)
	}
	limiter, err := ratelimit.New(table, nil, ratelimit.NewLocal(time.Now, 1000), ratelimit.Config{}, reg, log)
	if err != nil {
		f.Fatal(err)
	}
	var reached *http.Request
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = r
		w.WriteHeader(http.StatusNoContent)
	})
	h := New(Deps{
		Routes: routes, Upstreams: func(route.Owner) http.Handler { return upstream }, Limiter: limiter,
		Clients: clients, Probes: web.NewProbes(reg, nil), Metrics: metrics, MaxBody: 1 << 10, MaxUploadBody: 1 << 12, Log: log,
	})
	f.Fuzz(func(t *testing.T, method, target, xff string) {
		req, err := http.NewRequest(method, "http://gateway.test"+target, strings.NewReader(""))
		if err != nil || req.URL.Host != "gateway.test" {
			return // net/http would not have accepted this request line
		}
		req.RemoteAddr = "192.0.2.10:4000"
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		reached = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d", method, target, rec.Code)
		}
		if reached == nil {
			return
		}
		p := reached.URL.Path
		if !strings.HasPrefix(p, "/api/") || (path.Clean(p) != p && path.Clean(p)+"/" != p) {
			t.Fatalf("%s %q reached an upstream as %q", method, target, p)
		}
		if strings.Contains(strings.ToLower(reached.URL.RawPath), "%2f") {
			t.Fatalf("%s %q reached an upstream with an encoded slash", method, target)
		}
		if reached.Header.Get(proxy.HeaderClientIP) == "" {
			t.Fatalf("%s %q: no client address forwarded", method, target)
		}
	})
}

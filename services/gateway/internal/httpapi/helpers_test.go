package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/openapi"
	"github.com/acube/platform/services/gateway/internal/proxy"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/route"
)

// fakeUpstream answers like a service: it names itself, echoes what the
// gateway sent, and mimics booking's 201 for POST /api/sessions/book and
// the admin service's token pair for a login.
func fakeUpstream(t *testing.T, owner route.Owner) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Upstream", string(owner))
		w.Header().Set("X-Seen-Request-ID", r.Header.Get(web.HeaderRequestID))
		w.Header().Set("X-Seen-Client", r.Header.Get(proxy.HeaderClientIP))
		w.Header().Set(web.HeaderRequestID, r.Header.Get(web.HeaderRequestID)) // services echo it too
		if owner == route.Booking && r.Method == http.MethodPost && r.URL.Path == "/api/sessions/book" {
			now := time.Now().UTC().Format(time.RFC3339Nano)
			w.Header().Set("Location", "/api/sessions/0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11")
			web.WriteJSON(w, http.StatusCreated, map[string]string{
				"id": "0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11", "email": "test@example.com", "name": "Test",
				"phone": "1234567890", "session_type": "individual", "preferred_date": "2031-02-01",
				"message": "Test", "status": "pending", "created_at": now, "updated_at": now,
			})
			return
		}
		if owner == route.Admin && r.Method == http.MethodPost && r.URL.Path == "/api/admin/auth/login" {
			web.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "eyJ.a.b", "refresh_token": "r1",
				"token_type": "Bearer", "expires_in": 900, "expires_at": time.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339),
				"refresh_expires_in": 86400, "admin": map[string]string{"id": "0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d12",
					"email": "admin@example.org", "name": "Admin", "role": "admin"}})
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]string{"owner": string(owner), "method": r.Method, "path": r.URL.Path})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gw is a gateway under test.
type gw struct {
	// URL is the public port's base URL, Internal the probes' and metrics'.
	URL      string
	Internal string
	Reg      *prometheus.Registry
	Logs     *testkit.SyncBuffer
	Limiter  *ratelimit.Limiter
	Source   ratelimit.Source
}

type gwOptions struct {
	noLimits     bool
	redis        *redis.Client // nil: in process
	redisPrefix  string
	redisTimeout time.Duration
	overrides    ratelimit.Overrides
	trusted      []string
	upstreams    map[route.Owner]string // default: fake upstreams
	headerWait   time.Duration
	bodyWait     time.Duration // GATEWAY_BODY_READ_TIMEOUT; 0: a minute
	maxBody      int64
}

func newGateway(t *testing.T, o gwOptions) *gw {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	metrics, err := web.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if o.upstreams == nil {
		o.upstreams = map[route.Owner]string{}
	}
	for _, owner := range []route.Owner{route.Booking, route.Admin, route.Exporter} {
		if o.upstreams[owner] == "" {
			o.upstreams[owner] = fakeUpstream(t, owner).URL
		}
	}
	px, err := proxy.New(proxy.Config{Upstreams: o.upstreams, ResponseHeaderTimeout: o.headerWait, DialTimeout: time.Second}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	clients, err := clientip.New(clientip.Config{TrustedProxies: o.trusted, IPv6Prefix: 64})
	if err != nil {
		t.Fatal(err)
	}
	routes := route.Table()
	var keys []string
	for _, r := range routes {
		keys = append(keys, r.Key())
	}
	g := &gw{Reg: reg, Logs: logs, Source: ratelimit.Source{Default: gateway.DefaultRateLimits(), Overrides: o.overrides, RouteKeys: keys}}
	if !o.noLimits {
		table, err := g.Source.Load()
		if err != nil {
			t.Fatal(err)
		}
		var shared *ratelimit.Redis
		if o.redis != nil {
			if o.redisTimeout == 0 {
				o.redisTimeout = time.Second
			}
			shared, err = ratelimit.NewRedis(o.redis, ratelimit.RedisConfig{KeyPrefix: o.redisPrefix, Timeout: o.redisTimeout, BreakerCooldown: time.Hour}, reg, log)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(shared.Close)
		}
		g.Limiter, err = ratelimit.New(table, shared, ratelimit.NewLocal(time.Now, 0), ratelimit.Config{}, reg, log)
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.maxBody == 0 {
		o.maxBody = 1 << 20
	}
	d := Deps{
		Routes: routes, Upstreams: px.Handler, Limiter: g.Limiter, Clients: clients,
		Probes: web.NewProbes(reg, nil), Metrics: metrics, Docs: openapi.Mount,
		MaxBody: o.maxBody, MaxUploadBody: 4 * o.maxBody, BodyReadTimeout: o.bodyWait, Log: log,
	}
	if d.BodyReadTimeout == 0 {
		d.BodyReadTimeout = time.Minute
	}
	srv := httptest.NewServer(New(d))
	t.Cleanup(srv.Close)
	internal := httptest.NewServer(Internal(d))
	t.Cleanup(internal.Close)
	g.URL, g.Internal = srv.URL, internal.URL
	return g
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	return doWith(t, http.DefaultClient, method, url, body, header)
}

// doWith is do with a client of the caller's (apitest's, to validate the
// exchange against the document).
func doWith(t *testing.T, client *http.Client, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// errorBody decodes the JSON error shape of DESIGN §2.
func errorBody(t *testing.T, b []byte) web.Error {
	t.Helper()
	var e web.Error
	if err := json.Unmarshal(b, &e); err != nil || e.Message == "" {
		t.Fatalf("body %q is not the JSON error shape: %v", b, err)
	}
	return e
}

// The seed's "Testing Recommendations" bodies.
const (
	seedBooking = `{"email":"test@example.com","name":"Test","phone":"1234567890","session_type":"individual","preferred_date":"2025-02-01","message":"Test"}`
	seedLogin   = `{"email":"test@example.com","password":"wrong"}`
)

package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/redistest"
)

// statuses sends n requests and returns their status codes.
func statuses(t *testing.T, n int, method, url, body string, header map[string]string) []int {
	t.Helper()
	out := make([]int, n)
	for i := range n {
		resp, _ := do(t, method, url, body, header)
		out[i] = resp.StatusCode
	}
	return out
}

func countOf(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

// TestSeedCurls runs the seed's "Testing Recommendations" loops: booking
// lets 10 through and then answers 429; login lets 5 through.
func TestSeedCurls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, body string
		calls, pass      int
		detail           string
	}{
		{name: "booking", path: "/api/sessions/book", body: seedBooking, calls: 15, pass: 10, detail: "10 per 1 minute"},
		{name: "login", path: "/api/admin/auth/login", body: seedLogin, calls: 10, pass: 5, detail: "5 per 1 minute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, gwOptions{})
			for i := range tt.calls {
				resp, b := do(t, "POST", g.URL+tt.path, tt.body, nil)
				if i < tt.pass {
					if resp.StatusCode == http.StatusTooManyRequests {
						t.Fatalf("request %d refused, want the first %d through", i+1, tt.pass)
					}
					continue
				}
				if resp.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("request %d: status %d, want 429", i+1, resp.StatusCode)
				}
				if want := `{"error":"Rate limit exceeded","detail":"` + tt.detail + `"}`; strings.TrimSpace(string(b)) != want {
					t.Errorf("429 body %s, want %s", b, want)
				}
				if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
					t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
				}
			}
			if n := strings.Count(g.Logs.String(), `"msg":"Rate limit exceeded"`); n != tt.calls-tt.pass {
				t.Errorf("%d log lines with the phrase, want %d", n, tt.calls-tt.pass)
			}
		})
	}
}

func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{})
	start := time.Now()
	resp, _ := do(t, "GET", g.URL+"/api/events", "", nil)
	want := map[string]string{
		"X-RateLimit-Limit":     "10",
		"X-RateLimit-Remaining": "9",
		"RateLimit-Policy":      `"public-minute";q=10;w=60, "public-hour";q=30;w=3600`,
		"RateLimit":             `"public-minute";r=9;t=6, "public-hour";r=29;t=120`,
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil || reset < start.Unix()+5 || reset > time.Now().Unix()+7 {
		t.Errorf("X-RateLimit-Reset = %q, want about now+6s", resp.Header.Get("X-RateLimit-Reset"))
	}
	// On the wire the names are spelled as the seed shows them.
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /api/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	wire, _ := io.ReadAll(conn)
	for _, name := range []string{"\r\nX-RateLimit-Limit: 10\r\n", "\r\nX-RateLimit-Remaining: 8\r\n", "\r\nRateLimit-Policy: ", "\r\nRateLimit: "} {
		if !strings.Contains(string(wire), name) {
			t.Errorf("response lacks %q:\n%s", name, wire)
		}
	}
	// Unlimited gateway endpoints carry no limit headers.
	resp, _ = do(t, "GET", g.Internal+"/healthz", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("RateLimit") != "" {
		t.Errorf("internal /healthz: %d, RateLimit %q; want 200 without rate-limit headers", resp.StatusCode, resp.Header.Get("RateLimit"))
	}
}

func TestRateLimitHeaderSpelling(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	tier := mustTable(t, ratelimit.Overrides{}).ForRoute("GET /api/events")
	d := ratelimit.Decision{Tier: tier, Allowed: true, Backend: ratelimit.BackendLocal}
	writeLimitHeaders(h, &d)
	for _, k := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"} {
		if _, ok := h[k]; !ok {
			t.Errorf("header %s not set in the seed's spelling; have %v", k, h)
		}
	}
}

func mustTable(t *testing.T, ov ratelimit.Overrides) *ratelimit.Table {
	t.Helper()
	g := newGateway(t, gwOptions{noLimits: true, overrides: ov})
	table, err := g.Source.Load()
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestSpoofedForwardedFor: a client that invents X-Forwarded-For values
// still shares one quota; behind a trusted proxy the header does count.
func TestSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		trusted  []string
		wantPass int
	}{
		{name: "untrusted peer: header ignored", wantPass: 10},
		{name: "proxies configured but peer not one", trusted: []string{"10.0.0.0/8"}, wantPass: 10},
		{name: "trusted peer: each forwarded client counted alone", trusted: []string{"127.0.0.1/32"}, wantPass: 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, gwOptions{trusted: tt.trusted})
			pass := 0
			for i := range 15 {
				resp, _ := do(t, "POST", g.URL+"/api/contact", "{}", map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i)})
				if resp.StatusCode != http.StatusTooManyRequests {
					pass++
				}
			}
			if pass != tt.wantPass {
				t.Errorf("%d of 15 passed, want %d", pass, tt.wantPass)
			}
		})
	}
}

func TestShadowModeAndNearLimit(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{overrides: ratelimit.Overrides{Shadow: []string{"public"}}})
	codes := statuses(t, 15, "GET", g.URL+"/api/events", "", nil)
	if n := countOf(codes, http.StatusTooManyRequests); n != 0 {
		t.Errorf("shadow tier refused %d requests", n)
	}
	shadowed, _ := testutil.GatherAndCount(g.Reg, "gateway_ratelimit_decisions_total")
	if shadowed == 0 {
		t.Fatal("no decisions counted")
	}
	metrics := gather(t, g)
	if got := metrics[`gateway_ratelimit_decisions_total{backend="local",outcome="shadow_refused",tier="public"}`]; got != 5 {
		t.Errorf("shadow_refused = %v, want 5", got)
	}
	if got := metrics[`gateway_ratelimit_decisions_total{backend="local",outcome="allowed",tier="public"}`]; got != 10 {
		t.Errorf("allowed = %v, want 10", got)
	}
	// 10/minute: requests 8, 9 and 10 leave at most 2 (20%) remaining.
	if got := metrics[`gateway_ratelimit_near_limit_total{tier="public"}`]; got != 3 {
		t.Errorf("near_limit = %v, want 3", got)
	}
	if !strings.Contains(g.Logs.String(), "shadow mode") || strings.Contains(g.Logs.String(), `"msg":"Rate limit exceeded"`) {
		t.Error("shadow refusals should be logged as such, not as real ones")
	}
}

// gather flattens the registry into "name{labels}" → value.
func gather(t *testing.T, g *gw) map[string]float64 {
	t.Helper()
	mfs, err := g.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

// TestIntegrationTwoReplicasShareRedis: two gateways on one Redis allow 10
// booking requests in total, not 20.
func TestIntegrationTwoReplicasShareRedis(t *testing.T) {
	rdb := redistest.Shared(t)
	prefix := redistest.Prefix(t, rdb)
	a := newGateway(t, gwOptions{redis: rdb, redisPrefix: prefix})
	b := newGateway(t, gwOptions{redis: rdb, redisPrefix: prefix})
	pass := 0
	for i := range 20 {
		url := a.URL
		if i%2 == 1 {
			url = b.URL
		}
		resp, _ := do(t, "POST", url+"/api/sessions/book", seedBooking, nil)
		if resp.StatusCode != http.StatusTooManyRequests {
			pass++
		}
	}
	if pass != 10 {
		t.Errorf("%d of 20 passed through two replicas, want 10", pass)
	}
	if got := gather(t, a)[`gateway_ratelimit_decisions_total{backend="redis",outcome="refused",tier="public"}`]; got != 5 {
		t.Errorf("replica a refused %v via redis, want 5", got)
	}
}

// TestIntegrationGatewayDeadRedis: with Redis unreachable the gateway keeps
// limiting in process, reports degraded readiness (still 200), and a
// fail-closed tier answers 503.
func TestIntegrationGatewayDeadRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("dials a dead port; skipped under -short")
	}
	opts, err := redis.ParseURL(redistest.DeadURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	g := newGateway(t, gwOptions{redis: rdb, redisPrefix: "dead:", redisTimeout: 200 * time.Millisecond,
		overrides: ratelimit.Overrides{OnRedisError: []string{"auth=closed"}}})
	codes := statuses(t, 12, "POST", g.URL+"/api/sessions/book", seedBooking, nil)
	if n := countOf(codes, http.StatusTooManyRequests); n != 2 {
		t.Errorf("codes %v: want 10 through and 2 refused by the in-process limiter", codes)
	}
	resp, b := do(t, "POST", g.URL+"/api/admin/auth/login", seedLogin, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || errorBody(t, b).Message != "Service unavailable" {
		t.Errorf("fail-closed tier: %d %s, want 503", resp.StatusCode, b)
	}
	resp, b = do(t, "GET", g.Internal+"/readyz", "", nil)
	var ready struct {
		RateLimit ratelimit.Status `json:"ratelimit"`
	}
	if err := json.Unmarshal(b, &ready); err != nil || resp.StatusCode != http.StatusOK || !ready.RateLimit.Degraded || ready.RateLimit.Breaker != "open" {
		t.Errorf("readyz %d %s, want 200 with a degraded limiter", resp.StatusCode, b)
	}
	m := gather(t, g)
	if m["gateway_ratelimit_redis_degraded{}"] != 1 || m[`gateway_ratelimit_fallbacks_total{policy="local",tier="public"}`] != 12 {
		t.Errorf("degraded gauge %v, local fallbacks %v", m["gateway_ratelimit_redis_degraded{}"], m[`gateway_ratelimit_fallbacks_total{policy="local",tier="public"}`])
	}
}

// TestReloadDropsNothing swaps tables while requests run: none fails, and
// the new numbers apply to requests after the swap.
func TestReloadDropsNothing(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{overrides: ratelimit.Overrides{Windows: map[string]string{"public": "100000/minute"}}})
	var (
		wg  sync.WaitGroup
		bad sync.Map
	)
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				resp, _ := do(t, "GET", g.URL+"/api/events", "", nil)
				if resp.StatusCode != http.StatusOK {
					bad.Store(fmt.Sprint(w, i), resp.StatusCode)
				}
			}
		})
	}
	for range 20 {
		if err := g.Limiter.Reload(g.Source); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	bad.Range(func(k, v any) bool { t.Errorf("request %v: status %v during reloads", k, v); return true })

	src := g.Source
	src.Overrides = ratelimit.Overrides{Windows: map[string]string{"auth": "1/minute"}}
	if err := g.Limiter.Reload(src); err != nil {
		t.Fatal(err)
	}
	codes := statuses(t, 2, "POST", g.URL+"/api/admin/auth/login", seedLogin, nil)
	if codes[1] != http.StatusTooManyRequests {
		t.Errorf("after reload to 1/minute: codes %v", codes)
	}
	bad2 := src
	bad2.Default = []byte("tiers: [")
	if err := g.Limiter.Reload(bad2); err == nil {
		t.Error("a broken table reloaded without error")
	}
	if g.Limiter.Table().Tier("auth").Windows[0].Rate != 1 {
		t.Error("a broken table replaced the one in force")
	}
}

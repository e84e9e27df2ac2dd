package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/redistest"
)

// gatewayRun is a real gateway started by a test in front of a stub
// upstream, with the public tier at 2/minute.
type gatewayRun struct {
	base     string // http://addr of the public port
	internal string // http://addr of the probes and metrics
	table    string // the rate-limit file it reads
	logs     *testkit.SyncBuffer
	svc      *testkit.Task
}

func startGateway(t *testing.T, redisURL, prefix string) *gatewayRun {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(upstream.Close)

	table := filepath.Join(t.TempDir(), "ratelimits.yaml")
	base := string(gateway.DefaultRateLimits())
	if err := os.WriteFile(table, []byte(strings.Replace(base, "[10/minute, 30/hour]", "[2/minute]", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, internal := testkit.FreeAddr(t), testkit.FreeAddr(t)
	env := map[string]string{
		"GATEWAY_ADDR": addr, "GATEWAY_INTERNAL_ADDR": internal, "BOOKING_URL": upstream.URL, "REDIS_URL": redisURL,
		"REDIS_KEY_PREFIX": prefix, "RATELIMIT_CONFIG": table, "SHUTDOWN_GRACE": "2s",
	}
	g := &gatewayRun{base: "http://" + addr, internal: "http://" + internal, table: table, logs: &testkit.SyncBuffer{}}
	g.svc = testkit.Go(t, "the gateway", func(ctx context.Context) error { return run(ctx, libconfig.Map(env), g.logs) })
	testkit.WaitHTTP(t, g.internal+"/readyz", http.StatusOK, testkit.While(g.svc.Alive))
	return g
}

// codes sends n requests to a public route and returns their statuses.
func (g *gatewayRun) codes(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for range n {
		resp, err := http.Get(g.base + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out = append(out, resp.StatusCode)
	}
	return out
}

// stop cancels the gateway and checks it drains and returns.
func (g *gatewayRun) stop(t *testing.T) {
	t.Helper()
	if err := g.svc.Stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(g.logs.String(), `"msg":"stopped"`) {
		t.Error("no stopped log line")
	}
}

// TestIntegrationRun starts the real gateway: it proxies, limits through
// Redis, re-reads its table on SIGHUP and drains on cancel.
func TestIntegrationRun(t *testing.T) {
	rdb := redistest.Shared(t)
	g := startGateway(t, redistest.SharedURL, redistest.Prefix(t, rdb))
	if got := g.codes(t, 3); got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("with 2/minute: %v", got)
	}
	// Probes and metrics on the internal port only.
	for _, c := range []struct {
		url  string
		want int
	}{
		{g.internal + "/metrics", 200}, {g.internal + "/healthz", 200},
		{g.base + "/metrics", 404}, {g.base + "/healthz", 404}, {g.base + "/readyz", 404},
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s = %d, want %d", c.url, resp.StatusCode, c.want)
		}
	}

	// Put the public tier in shadow mode and tell the gateway.
	shadowed := strings.Replace(readFile(t, g.table), "  public:\n    limits: [2/minute]\n", "  public:\n    limits: [2/minute]\n    shadow: true\n", 1)
	if err := os.WriteFile(g.table, []byte(shadowed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	g.logs.WaitFor(t, "rate-limit table reloaded")
	if got := g.codes(t, 2); got[0] != 200 || got[1] != 200 {
		t.Fatalf("after reload to shadow mode: %v", got)
	}
	g.stop(t)
}

// TestIntegrationRedisSentinel: with a REDIS_URL naming Sentinels (as the
// production chart deploys Redis), the gateway finds the primary through
// them and keeps its counters there.
func TestIntegrationRedisSentinel(t *testing.T) {
	primary := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, primary)
	g := startGateway(t, sentinel.URL(), "sentinel-test:")
	if got := g.codes(t, 3); got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("with 2/minute through Sentinel: %v", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(primary.Port)})
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), "sentinel-test:*").Result()
	if err != nil || len(keys) == 0 {
		t.Errorf("no counters on the primary (%v): the gateway did not limit through it", err)
	}
	if strings.Contains(g.logs.String(), "degraded") {
		t.Errorf("the limiter degraded:\n%s", g.logs.String())
	}
	g.stop(t)
}

// TestIntegrationEmptyRedisURLLimitsInProcess: REDIS_URL set to the empty
// string selects the in-process limiter, as the README says, although the
// variable's default names a Redis. (It used to be read as unset, so the
// gateway limited through the default Redis.)
func TestIntegrationEmptyRedisURLLimitsInProcess(t *testing.T) {
	g := startGateway(t, "", "unused:")
	resp, err := http.Get(g.internal + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status    string `json:"status"`
		RateLimit struct {
			Backend string `json:"backend"`
		} `json:"ratelimit"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || body.RateLimit.Backend != "local" {
		t.Fatalf("/readyz = %d %+v (%v), want 200 with the local limiter", resp.StatusCode, body, err)
	}
	if got := g.codes(t, 3); got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("with 2/minute in process: %v", got)
	}
	if !strings.Contains(g.logs.String(), "REDIS_URL is empty") {
		t.Errorf("no warning that limits are per replica:\n%s", g.logs.String())
	}
	g.stop(t)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "bad upstream", env: map[string]string{"BOOKING_URL": "not a url"}, want: "BOOKING_URL"},
		{name: "bad trusted proxy", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/99"}, want: "TRUSTED_PROXIES"},
		{name: "bad table override", env: map[string]string{"RATELIMIT_PUBLIC": "ten/minute"}, want: "tier public"},
		{name: "missing table file", env: map[string]string{"RATELIMIT_CONFIG": "/nonexistent/ratelimits.yaml"}, want: "read rate-limit table"},
		{name: "bad duration", env: map[string]string{"REDIS_TIMEOUT": "soon"}, want: "REDIS_TIMEOUT"},
		{name: "internal port is the public one", env: map[string]string{"GATEWAY_ADDR": "127.0.0.1:1", "GATEWAY_INTERNAL_ADDR": "127.0.0.1:1"}, want: "GATEWAY_INTERNAL_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), libconfig.Map(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run error = %v, want it to mention %s", err, tt.want)
			}
		})
	}
}

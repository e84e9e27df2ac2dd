package fastpath

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/redistest"
	"github.com/acube/platform/services/gateway/internal/route"
)

// raw sends request bytes on a new connection and reads one answer
// (after any 100 Continue, which it reports).
func raw(t *testing.T, base, request string) (resp *http.Response, body string, continued bool) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusContinue {
			break
		}
		continued = true
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), continued
}

func echoUpstream(t *testing.T) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("sleep") {
			time.Sleep(time.Second)
		}
		if r.URL.Query().Has("panic") {
			panic(http.ErrAbortHandler) // the connection is cut: 502
		}
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "1")
		_, _ = io.WriteString(w, "got "+r.Header.Get("Expect")+" "+string(b))
	}))
	t.Cleanup(up.Close)
	return up.URL
}

func TestIntegrationEdges(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	base := startWith(t, map[route.Owner]string{route.Booking: up, route.Admin: up, route.Exporter: up}, nil, 200*time.Millisecond)
	const host = "Host: gw\r\n"
	tests := []struct {
		name, request string
		status        int
		want          string
		continued     bool
	}{
		{name: "proxied, Connection tokens dropped", request: "GET /api/events HTTP/1.1\r\n" + host + "\r\n", status: 200, want: "got  "},
		{name: "obs-fold", request: "GET /api/events HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n", status: 400, want: "folded"},
		{name: "bare LF", request: "GET /api/events HTTP/1.1\r\nHost: gw\nX-A: a\r\n\r\n", status: 400, want: "CRLF"},
		{name: "CL and TE", request: "POST /api/contact HTTP/1.1\r\n" + host + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400, want: "both"},
		{name: "TE identity", request: "POST /api/contact HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", status: 400, want: "chunked"},
		{name: "duplicate CL", request: "POST /api/contact HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", status: 400, want: "malformed"},
		{name: "HTTP/1.0 without length", request: "POST /api/contact HTTP/1.0\r\n" + host + "\r\n", status: 411},
		{name: "gzip body", request: "POST /api/contact HTTP/1.1\r\n" + host + "Content-Encoding: gzip\r\nContent-Length: 1\r\n\r\nx", status: 415},
		{name: "large headers", request: "GET /api/events HTTP/1.1\r\n" + host + "X-A: " + strings.Repeat("a", 33<<10) + "\r\n\r\n", status: 431},
		{name: "huge headers", request: "GET /api/events HTTP/1.1\r\n" + host + "X-A: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", status: 431},
		{name: "upgrade", request: "GET /api/events HTTP/1.1\r\n" + host + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", status: 400, want: "upgrades"},
		{name: "declared too large", request: "POST /api/contact HTTP/1.1\r\n" + host + "Content-Length: 2000\r\n\r\n", status: 413},
		{name: "chunked too large", request: "POST /api/contact HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n800\r\n" + strings.Repeat("x", 2048) + "\r\n0\r\n\r\n", status: 413},
		{name: "bad chunk", request: "POST /api/contact HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n", status: 400, want: "chunked"},
		{name: "stalled body", request: "POST /api/contact HTTP/1.1\r\n" + host + "Content-Length: 10\r\n\r\nabc", status: 408},
		{name: "expect continue", request: "POST /api/contact HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", status: 200, want: "got  hi", continued: true},
		{name: "expect too large", request: "POST /api/contact HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 2000\r\n\r\n", status: 413},
		{name: "upstream too slow", request: "GET /api/events?sleep=1 HTTP/1.1\r\n" + host + "\r\n", status: 504},
		{name: "upstream cuts", request: "GET /api/events?panic=1 HTTP/1.1\r\n" + host + "\r\n", status: 502},
		{name: "docs asset", request: "GET /api/docs/init.js HTTP/1.1\r\n" + host + "\r\n", status: 200},
		{name: "405 on a static segment with a param sibling", request: "DELETE /api/sessions/book HTTP/1.1\r\n" + host + "\r\n", status: 405, want: "use GET, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body, continued := raw(t, base, tt.request)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) || continued != tt.continued {
				t.Fatalf("%d (continued %v) %s, want %d with %q", resp.StatusCode, continued, body, tt.status, tt.want)
			}
			if resp.Header.Get("X-Secret") != "" || resp.Header.Get("X-Request-Id") == "" {
				t.Errorf("headers %v", resp.Header)
			}
		})
	}
}

func TestIntegrationRateLimits(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	var keys []string
	for _, r := range route.Table() {
		keys = append(keys, r.Key())
	}
	table, err := ratelimit.Source{Default: gateway.DefaultRateLimits(), RouteKeys: keys,
		Overrides: ratelimit.Overrides{Windows: map[string]string{"public": "2/minute"}}}.Load()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Shared(t)
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	shared, err := ratelimit.NewRedis(rdb, ratelimit.RedisConfig{KeyPrefix: redistest.Prefix(t, rdb), Timeout: time.Second}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Close)
	limiter, err := ratelimit.New(table, shared, ratelimit.NewLocal(time.Now, 0), ratelimit.Config{}, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	base := startWith(t, map[route.Owner]string{route.Booking: up, route.Admin: up, route.Exporter: up}, limiter, time.Second)
	var statuses []int
	var last *http.Response
	for range 3 {
		resp, body, _ := raw(t, base, "GET /api/events HTTP/1.1\r\nHost: gw\r\n\r\n")
		statuses = append(statuses, resp.StatusCode)
		last = resp
		if resp.StatusCode == 429 && !strings.Contains(body, "Rate limit exceeded") {
			t.Errorf("429 body %s", body)
		}
	}
	if statuses[0] != 200 || statuses[1] != 200 || statuses[2] != 429 {
		t.Fatalf("statuses %v, want 200 200 429", statuses)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit", "Retry-After"} {
		if len(last.Header[h]) != 1 && len(last.Header[http.CanonicalHeaderKey(h)]) != 1 {
			t.Errorf("429 without %s: %v", h, last.Header)
		}
	}
}

// TestIntegrationShutdownFinishesInFlight: Shutdown waits for a request
// that is being answered, which gets its answer with Connection: close,
// and Serve returns nil.
func TestIntegrationShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	up := echoUpstream(t)
	reg := prometheus.NewRegistry()
	m, err := web.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := clientip.New(clientip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Routes: route.Table(), Upstreams: map[route.Owner]string{route.Booking: up, route.Admin: up, route.Exporter: up},
		Clients: clients, Metrics: m, MaxBody: 1 << 10, MaxUploadBody: 1 << 10, Log: slog.New(slog.DiscardHandler)}, reg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	answered := make(chan *http.Response, 1)
	go func() {
		// Not raw: t.Fatal may not run outside the test's goroutine.
		resp, err := http.Get("http://" + ln.Addr().String() + "/api/events?sleep=1")
		if err != nil {
			t.Error(err)
			answered <- &http.Response{}
			return
		}
		resp.Body.Close()
		answered <- resp
	}()
	// Shut down once the request is with the upstream (it sleeps 1 s).
	deadline := time.Now().Add(5 * time.Second)
	for s.upstreams[route.Booking].client.ConnsCount() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp := <-answered
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("in-flight request: %d, close %v", resp.StatusCode, resp.Close)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// A Shutdown before Serve leaves Serve nothing to do.
	s2, err := New(Config{Routes: route.Table(), Upstreams: map[route.Owner]string{route.Booking: up, route.Admin: up, route.Exporter: up},
		Clients: clients, Metrics: m, MaxBody: 1, MaxUploadBody: 1, Log: slog.New(slog.DiscardHandler)}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s2.Serve(ln); err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, _ := web.NewHTTPMetrics(reg)
	clients, _ := clientip.New(clientip.Config{})
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no clients", cfg: Config{Metrics: m, Log: log, MaxBody: 1, MaxUploadBody: 1}},
		{name: "no body limit", cfg: Config{Clients: clients, Metrics: m, Log: log}},
		{name: "bad upstream", cfg: Config{Clients: clients, Metrics: m, Log: log, MaxBody: 1, MaxUploadBody: 1,
			Upstreams: map[route.Owner]string{route.Booking: "ftp://x"}}},
		{name: "route without upstream", cfg: Config{Clients: clients, Metrics: m, Log: log, MaxBody: 1, MaxUploadBody: 1,
			Routes: route.Table()}},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg, prometheus.NewRegistry()); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

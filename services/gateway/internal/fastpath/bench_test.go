package fastpath

import (
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/httpapi"
	"github.com/acube/platform/services/gateway/internal/proxy"
	"github.com/acube/platform/services/gateway/internal/route"
)

// BenchmarkDataPath proxies GET /api/events (no rate limits) through each
// data path to a fasthttp upstream over loopback, from parallel
// keep-alive clients. It prints figures, it asserts none: run it on a
// quiet machine (`go test -run - -bench DataPath ./internal/fastpath/`).
// allocs/op counts client, gateway and upstream together.
func BenchmarkDataPath(b *testing.B) {
	u := jsonUpstream(b)
	upstreams := map[route.Owner]string{route.Booking: u, route.Admin: u, route.Exporter: u}
	clients, err := clientip.New(clientip.Config{})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)

	b.Run("fasthttp", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		m, _ := web.NewHTTPMetrics(reg)
		s, err := New(Config{Routes: route.Table(), Upstreams: upstreams, Clients: clients, Metrics: m,
			MaxBody: 1 << 20, MaxUploadBody: 1 << 20, Log: log}, reg)
		if err != nil {
			b.Fatal(err)
		}
		ln := listen(b)
		go func() { _ = s.Serve(ln) }()
		b.Cleanup(func() { _ = s.srv.Shutdown() })
		drive(b, ln.Addr().String())
	})
	b.Run("nethttp", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		m, _ := web.NewHTTPMetrics(reg)
		px, err := proxy.New(proxy.Config{Upstreams: upstreams}, reg, log)
		if err != nil {
			b.Fatal(err)
		}
		srv := web.NewServer("", httpapi.New(httpapi.Deps{Routes: route.Table(), Upstreams: px.Handler,
			Clients: clients, Metrics: m, MaxBody: 1 << 20, MaxUploadBody: 1 << 20, Log: log}))
		ln := listen(b)
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { _ = srv.Close(); px.Close() })
		drive(b, ln.Addr().String())
	})
}

// jsonUpstream serves a small JSON answer to every request from a
// fasthttp server and returns its base URL.
func jsonUpstream(tb testing.TB) string {
	tb.Helper()
	ln := listen(tb)
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"items":[]}`)
	}}
	go func() { _ = up.Serve(ln) }()
	tb.Cleanup(func() { _ = up.Shutdown() })
	return "http://" + ln.Addr().String()
}

func listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// drive sends b.N requests from parallel keep-alive connections.
func drive(b *testing.B, addr string) {
	c := &fasthttp.HostClient{Addr: addr, MaxConns: 256}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + "/api/events")
		for pb.Next() {
			if err := c.Do(req, resp); err != nil || resp.StatusCode() != http.StatusOK {
				b.Errorf("status %d, error %v", resp.StatusCode(), err)
				return
			}
		}
	})
}

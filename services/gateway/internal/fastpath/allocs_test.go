package fastpath

import (
	"net/http"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/acube/platform/services/gateway/internal/route"
)

// TestProxiedRequestAllocations bounds the allocations of one proxied
// request with a small answer (client, gateway and upstream in this
// process together): none. The answer is read whole (transport: fasthttp's
// own transport makes 4 allocations for a streamed one), and nothing else
// the data path does per request allocates (the client's address text is
// made once per connection: peerConn), docs/benchmarks-gateway.md,
// "Header keys". (AllocsPerRun's whole-number average lets a
// pool emptied by the collector refill.)
func TestProxiedRequestAllocations(t *testing.T) {
	if raceBuild {
		t.Skip("the race detector allocates: counts are not the program's")
	}
	const most = 0
	u := jsonUpstream(t)
	base := start(t, map[route.Owner]string{route.Booking: u, route.Admin: u, route.Exporter: u})

	c := &fasthttp.HostClient{Addr: base[len("http://"):]}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	t.Cleanup(func() { fasthttp.ReleaseRequest(req); fasthttp.ReleaseResponse(resp) })
	req.SetRequestURI(base + "/api/events")
	allocs := testing.AllocsPerRun(200, func() {
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != http.StatusOK {
			t.Fatalf("status %d, error %v", resp.StatusCode(), err)
		}
	})
	t.Logf("%.1f allocations per proxied request", allocs)
	if allocs > most {
		t.Errorf("%.1f allocations per proxied request, want at most %d", allocs, most)
	}
}

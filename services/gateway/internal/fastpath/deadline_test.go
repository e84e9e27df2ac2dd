package fastpath

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acube/platform/services/gateway/internal/route"
)

// TestIntegrationHeaderDeadline checks the lazily armed response-header
// deadline (upConn) over pooled upstream connections: a connection idle
// past its armed deadline still carries the next request, a body may
// stream longer than the header timeout (300 ms in startWith), one the
// upstream closed while its deadline had passed is still found stale
// (the peek needs a live deadline) and the request goes out on a new
// one, and an upstream that never answers still gets its 504.
func TestIntegrationHeaderDeadline(t *testing.T) {
	t.Parallel()
	const first, rest = `{"items":[`, `]}`
	var conns atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("mode") {
		case "slowbody":
			_, _ = io.WriteString(w, first)
			http.NewResponseController(w).Flush()
			time.Sleep(600 * time.Millisecond) // past the header deadline, armed or not
			_, _ = io.WriteString(w, rest)
		case "hang":
			<-r.Context().Done()
		default:
			_, _ = io.WriteString(w, first+rest)
		}
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Config.IdleTimeout = time.Second
	up.Start()
	t.Cleanup(up.Close)
	base := start(t, map[route.Owner]string{route.Booking: up.URL, route.Admin: up.URL, route.Exporter: up.URL})

	tests := []struct {
		name   string
		mode   string
		idle   time.Duration // before the request
		status int
		body   string
		conns  int32 // the upstream connections so far (0: not checked)
	}{
		{name: "first", status: 200, body: first + rest},
		{name: "after the armed deadline passed", idle: 500 * time.Millisecond, status: 200, body: first + rest},
		{name: "body longer than the header timeout", mode: "slowbody", status: 200, body: first + rest},
		{name: "after a streamed body", status: 200, body: first + rest, conns: 1},
		// Past the upstream's IdleTimeout: it closed the connection (or
		// is about to); either way the request is answered.
		{name: "after the upstream closed it", idle: 2 * time.Second, status: 200, body: first + rest},
		{name: "no answer", mode: "hang", status: 504},
	}
	for _, tt := range tests {
		time.Sleep(tt.idle)
		resp, err := http.Get(base + "/api/events?mode=" + tt.mode)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != tt.status || tt.body != "" && string(b) != tt.body {
			t.Fatalf("%s: %d %q (%v), want %d %q", tt.name, resp.StatusCode, b, err, tt.status, tt.body)
		}
		if tt.status == 504 && !strings.Contains(string(b), "did not answer in time") {
			t.Errorf("%s: %s", tt.name, b)
		}
		if n := conns.Load(); tt.conns != 0 && n != tt.conns {
			t.Errorf("%s: the upstream saw %d connections, want %d (pooled and reused)", tt.name, n, tt.conns)
		}
	}
}

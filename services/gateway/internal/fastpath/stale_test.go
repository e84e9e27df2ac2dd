package fastpath

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acube/platform/services/gateway/internal/route"
)

// TestIntegrationUpstreamRestart: an upstream that restarts leaves the
// gateway's pooled connections to it closed. The next requests — a POST
// among them, which is never retried on a doubt — must reach the new
// process, not fail with 502: a pooled connection found closed before
// the request is written is dropped and the request sent on another.
func TestIntegrationUpstreamRestart(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener, gen string) *http.Server {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"generation":"`+gen+`"}`)
		})}
		go func() { _ = srv.Serve(ln) }()
		return srv
	}
	first := serve(ln, "first")
	base := "http://" + addr
	gw := start(t, map[route.Owner]string{route.Booking: base, route.Admin: base, route.Exporter: base})

	// Several connections in the pool, all idle afterwards.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := http.Get(gw + "/api/events")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()

	// The upstream restarts on the same address: every pooled
	// connection is closed by the old process.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	second := serve(ln2, "second")
	t.Cleanup(func() { _ = second.Close() })
	// A deliberate gap: pooled connections are checked once they have
	// been idle longer than staleCheckAfter (busy ones never are).
	time.Sleep(2 * staleCheckAfter)

	for i := range 10 {
		method, body := http.MethodGet, ""
		path := "/api/events"
		if i%2 == 1 {
			method, body, path = http.MethodPost, `{"name":"x"}`, "/api/contact"
		}
		req, _ := http.NewRequest(method, gw+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), "second") {
			t.Errorf("%s %s after the upstream restarted: %d %s", method, path, resp.StatusCode, got)
		}
	}
}

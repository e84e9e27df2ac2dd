package main

import (
	"context"
	"fmt"

	"github.com/valyala/fasthttp"
)

// upstreamBody is what the benchmark upstream answers: a small JSON
// object, the size of a typical API reply.
const upstreamBody = `{"items":[{"id":"0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11","title":"Mindfulness evening","capacity":30}],"next_cursor":null}`

// serveUpstream answers every request with upstreamBody until ctx ends,
// with the header fields a Go net/http service sends (Date, Content-Type,
// Content-Length). It is a fasthttp server, not net/http: at 6–9 µs of
// CPU a request against net/http's 20, it leaves the load CPU it shares
// with wrk enough for the closed-loop ceilings to be the proxies' rather
// than the load CPU's (docs/benchmarks-gateway.md, "What the closed loop
// does not show").
func serveUpstream(ctx context.Context, addr string) error {
	body := []byte(upstreamBody)
	srv := &fasthttp.Server{
		Handler: func(rc *fasthttp.RequestCtx) {
			rc.SetContentType("application/json")
			rc.SetBody(body)
		},
		NoDefaultServerHeader: true,
	}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown()
	}()
	if err := srv.ListenAndServe(addr); err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	return nil
}

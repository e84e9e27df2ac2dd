package main

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// upstreamBody is what the benchmark upstream answers: a small JSON
// object, the size of a typical API reply.
const upstreamBody = `{"items":[{"id":"0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11","title":"Mindfulness evening","capacity":30}],"next_cursor":null}`

// serveUpstream answers every request with upstreamBody until ctx ends.
func serveUpstream(ctx context.Context, addr string) error {
	body := []byte(upstreamBody)
	srv := &http.Server{
		Addr: addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

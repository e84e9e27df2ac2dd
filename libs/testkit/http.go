package testkit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Serve starts h on a loopback port and returns the server; it is closed
// when the test ends. The server is listening when Serve returns, so
// there is nothing to wait for.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// WaitHTTP waits until a GET of url answers status (see Eventually), and
// fails the test with the last status or error when it does not. Pass
// While(task.Alive) to stop waiting as soon as the server has exited.
func WaitHTTP(t testing.TB, url string, status int, opts ...Option) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	EventuallyErr(t, fmt.Sprintf("GET %s to answer %d", url, status), func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != status {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	}, opts...)
}

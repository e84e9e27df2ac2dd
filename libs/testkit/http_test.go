package testkit

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestServeAndWaitHTTP(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	WaitHTTP(t, srv.URL+"/readyz", http.StatusOK, Interval(time.Millisecond))
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestWaitHTTPFailures(t *testing.T) {
	t.Parallel()
	down := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nats down", http.StatusServiceUnavailable)
	}))
	tests := []struct {
		name, url string
		want      string
	}{
		{name: "wrong status", url: down.URL, want: "status 503: nats down"},
		{name: "nobody listens", url: "http://" + FreeAddr(t), want: "connection refused"},
	}
	for _, tt := range tests {
		f := runFake(t, func(tb *fakeT) {
			WaitHTTP(tb, tt.url, http.StatusOK, Timeout(30*time.Millisecond), Interval(5*time.Millisecond))
		})
		if !strings.Contains(f.fatal, tt.want) || !strings.Contains(f.fatal, "to answer 200") {
			t.Errorf("%s: failure %q lacks %q", tt.name, f.fatal, tt.want)
		}
	}
}

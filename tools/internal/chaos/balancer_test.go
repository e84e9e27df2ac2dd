package chaos

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// replicaServer answers every request with its name.
func replicaServer(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Forwarded-For"); got != r.Header.Get("X-Want-Forwarded-For") {
			http.Error(w, "X-Forwarded-For changed to "+got, http.StatusTeapot)
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Want-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestBalancer(t *testing.T) {
	a, b := replicaServer(t, "a"), replicaServer(t, "b")
	lb, err := StartBalancer("127.0.0.1:0", a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lb.Close() })

	answers := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			status, body := get(t, lb.URL()+"/x")
			if status != http.StatusOK {
				got[http.StatusText(status)]++
				continue
			}
			got[body]++
		}
		return got
	}
	tests := []struct {
		name  string
		setup func()
		want  map[string]int
	}{
		{name: "one replica takes all", setup: func() {}, want: map[string]int{"a": 4}},
		{name: "a joining replica takes its turn", setup: func() { lb.Add(b) }, want: map[string]int{"a": 2, "b": 2}},
		{name: "a leaving replica gets nothing more", setup: func() { lb.Remove(a) }, want: map[string]int{"b": 4}},
		{name: "no replica is a 503", setup: func() { lb.Remove(b) }, want: map[string]int{"Service Unavailable": 4}},
		{name: "an unreachable replica is a 503, as the gateway answers", setup: func() { lb.Add("127.0.0.1:1") },
			want: map[string]int{"Service Unavailable": 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			got := answers(4)
			if len(got) != len(tt.want) {
				t.Fatalf("answers %v, want %v", got, tt.want)
			}
			for k, n := range tt.want {
				if got[k] != n {
					t.Fatalf("answers %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestProbingBalancer: a replica joins the rotation once its readiness
// probe passes, leaves it after FailureThreshold failed probes, and leaves
// at once when removed.
func TestProbingBalancer(t *testing.T) {
	var mu sync.Mutex
	ready := map[string]bool{}
	replica := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/readyz" {
				mu.Lock()
				ok := ready[name]
				mu.Unlock()
				if !ok {
					http.Error(w, "not ready", http.StatusServiceUnavailable)
					return
				}
			}
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	setReady := func(name string, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		ready[name] = ok
	}
	a, b := replica("a"), replica("b")
	lb, err := StartProbingBalancer("127.0.0.1:0", Probe{Path: "/readyz", Period: 20 * time.Millisecond, FailureThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// waitRotation waits until the rotation is want.
	waitRotation := func(want ...string) {
		t.Helper()
		if err := lb.WaitRotation(ctx, func(r []string) bool { return slices.Equal(r, want) }); err != nil {
			t.Fatalf("rotation %v, want %v: %v", lb.Backends(), want, err)
		}
	}

	lb.Add(a)
	lb.Add(b)
	if status, _ := get(t, lb.URL()+"/x"); status != http.StatusServiceUnavailable {
		t.Fatalf("no replica ready: status %d, want 503", status)
	}
	setReady("b", true)
	if err := lb.WaitBackend(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, lb.URL()+"/x"); body != "b" {
		t.Fatalf("only b is ready but %q answered", body)
	}
	setReady("a", true)
	waitRotation(a, b)
	setReady("b", false)
	waitRotation(a)
	lb.Remove(a)
	if got := lb.Backends(); len(got) != 0 {
		t.Fatalf("removed a ready replica; rotation %v", got)
	}
}

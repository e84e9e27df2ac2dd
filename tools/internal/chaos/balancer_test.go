package chaos

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

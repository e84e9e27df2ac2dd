package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/gateway/internal/route"
)

func TestRouting(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true})
	tests := []struct {
		method, path string
		wantStatus   int
		wantOwner    string // "" = answered by the gateway itself
	}{
		{"POST", "/api/sessions/book", 201, "booking"},
		{"GET", "/api/sessions", 200, "booking"},
		{"GET", "/api/sessions/abc", 200, "booking"},
		{"PATCH", "/api/sessions/abc/status", 200, "booking"},
		{"POST", "/api/events", 200, "booking"},
		{"GET", "/api/events", 200, "booking"},
		{"GET", "/api/events/e1", 200, "booking"},
		{"POST", "/api/events/e1/register", 200, "booking"},
		{"PUT", "/api/events/e1/image", 200, "booking"},
		{"POST", "/api/volunteers", 200, "booking"},
		{"GET", "/api/volunteers", 200, "booking"},
		{"POST", "/api/contact", 200, "booking"},
		{"GET", "/api/contact", 200, "booking"},
		{"GET", "/api/admin/bulk/export/sessions", 200, "booking"},
		{"POST", "/api/admin/bulk/export/audit-logs", 200, "exporter"},
		{"GET", "/api/admin/exports", 200, "exporter"},
		{"GET", "/api/admin/exports/x1", 200, "exporter"},
		{"GET", "/api/admin/exports/x1/download", 200, "exporter"},
		{"POST", "/api/admin/auth/login", 200, "admin"},
		{"POST", "/api/admin/auth/refresh", 200, "admin"},
		{"POST", "/api/admin/bulk/delete", 200, "admin"},
		{"POST", "/api/admin/bulk/status-update", 200, "admin"},
		{"GET", "/api/admin/audit-logs", 200, "admin"},
		{"GET", "/api/admin/jobs/j1", 200, "admin"},
		{"POST", "/api/admin/admins", 200, "admin"},
		{"GET", "/api/nothing", 404, ""},
		{"GET", "/api", 404, ""},
		{"DELETE", "/api/sessions/book", 405, ""},
		{"GET", "/healthz", 404, ""},
		{"GET", "/readyz", 404, ""},
		{"GET", "/metrics", 404, ""},
		{"GET", "/", 404, ""},
		{"GET", "/api/healthz", 404, ""},
		{"GET", "/api/admin/../../metrics", 404, ""},
		{"GET", "/api/admin/x/%2e%2e/%2e%2e/metrics", 404, ""},
		{"GET", "/api/admin/a%2F..%2F..%2Fmetrics", 404, ""},
		{"GET", "/api/admin/exports/../../../readyz", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			body := ""
			if tt.method == "POST" || tt.method == "PUT" || tt.method == "PATCH" {
				body = "{}"
			}
			req, err := http.NewRequest(tt.method, g.URL+tt.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tt.path // send the path exactly as written
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("X-Upstream") != tt.wantOwner {
				t.Fatalf("status %d from %q, want %d from %q; body %s", resp.StatusCode, resp.Header.Get("X-Upstream"), tt.wantStatus, tt.wantOwner, b)
			}
			if tt.wantStatus >= 400 {
				errorBody(t, b)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true})
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{name: "passed through", sent: "req-123", keep: true},
		{name: "generated when missing", sent: ""},
		{name: "replaced when unsafe", sent: `bad"id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.sent != "" {
				h["X-Request-ID"] = tt.sent
			}
			resp, _ := do(t, "GET", g.URL+"/api/events", "", h)
			got := resp.Header.Values("X-Request-ID")
			if len(got) != 1 {
				t.Fatalf("X-Request-ID values %q, want exactly one", got)
			}
			if tt.keep && got[0] != tt.sent || !tt.keep && (got[0] == tt.sent || len(got[0]) != 32) {
				t.Errorf("X-Request-ID %q for sent %q", got[0], tt.sent)
			}
			if seen := resp.Header.Get("X-Seen-Request-ID"); seen != got[0] {
				t.Errorf("upstream saw %q, client got %q", seen, got[0])
			}
		})
	}
}

func TestClientAddressForwarded(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true})
	resp, _ := do(t, "GET", g.URL+"/api/events", "", map[string]string{"X-Real-IP": "6.6.6.6", "X-Forwarded-For": "6.6.6.6"})
	if got := resp.Header.Get("X-Seen-Client"); got != "127.0.0.1" {
		t.Errorf("upstream saw client %q, want the peer 127.0.0.1, not the spoofed header", got)
	}
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	dead := "http://" + testkit.FreeAddr(t) // nobody listens there
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(hangup.Close)
	g := newGateway(t, gwOptions{noLimits: true, headerWait: 100 * time.Millisecond,
		upstreams: map[route.Owner]string{route.Booking: dead, route.Admin: slow.URL, route.Exporter: hangup.URL}})
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantError          string
	}{
		{name: "upstream down", method: "GET", path: "/api/events", wantStatus: 503, wantError: "Service unavailable"},
		{name: "upstream too slow", method: "GET", path: "/api/admin/audit-logs", wantStatus: 504, wantError: "Gateway timeout"},
		{name: "upstream hangs up", method: "GET", path: "/api/admin/exports/0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11", wantStatus: 502, wantError: "Bad gateway"},
	}
	v := apitest.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := doWith(t, v.Client(), tt.method, g.URL+tt.path, "", map[string]string{"Authorization": "Bearer eyJ.a.b"})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, b)
			}
			e := errorBody(t, b)
			if e.Message != tt.wantError || e.Detail == "" {
				t.Errorf("body %s, want error %q with a detail", b, tt.wantError)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if !strings.Contains(g.Logs.String(), `"msg":"upstream failed"`) {
		t.Error("upstream failures are not logged")
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true, maxBody: 1000})
	validated := apitest.New(t).Client()
	big := strings.Repeat("x", 1500)
	tests := []struct {
		name, method, path string
		body               io.Reader
		wantStatus         int
	}{
		{name: "declared length over the limit", method: "POST", path: "/api/contact", body: strings.NewReader(big), wantStatus: 413},
		{name: "chunked body over the limit", method: "POST", path: "/api/contact", body: io.MultiReader(strings.NewReader(big)), wantStatus: 413},
		{name: "under the limit", method: "POST", path: "/api/contact", body: strings.NewReader(big[:900]), wantStatus: 200},
		{name: "upload route allows more", method: "PUT", path: "/api/events/e1/image", body: strings.NewReader(big), wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, g.URL+tt.path, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			client := http.DefaultClient
			if tt.wantStatus == 413 {
				// The gateway's own answer; the fake upstream's 200 to a
				// body of x's is no answer a service would give.
				client = validated
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, b)
			}
			if tt.wantStatus == 413 {
				if e := errorBody(t, b); e.Message != "Request body too large" {
					t.Errorf("body %s", b)
				}
			}
		})
	}
}

func TestReadyzAndDocs(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{})
	resp, b := do(t, "GET", g.Internal+"/readyz", "", nil)
	var ready struct {
		Status    string `json:"status"`
		RateLimit struct {
			Backend  string `json:"backend"`
			Degraded bool   `json:"degraded"`
		} `json:"ratelimit"`
	}
	if err := json.Unmarshal(b, &ready); err != nil || resp.StatusCode != 200 || ready.Status != "ready" || ready.RateLimit.Backend != "local" {
		t.Errorf("readyz %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, "GET", g.URL+"/api/docs", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "/api/openapi.json") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("docs page %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

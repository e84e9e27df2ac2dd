package httpapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/route"
)

// TestEdgeErrors: the gateway's own refusals are JSON errors with the
// status the document gives them, checked against the document by
// apitest: 404, 405 with Allow, 411, 413, 415 and 431. The upstream is
// never reached.
func TestEdgeErrors(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true, maxBody: 1000})
	v := apitest.New(t)
	client := v.Client()
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		wantStatus               int
		wantAllow                string
		wantError                string
	}{
		{name: "unknown path", method: "GET", path: "/api/no/such/thing", wantStatus: 404, wantError: "Not found"},
		{name: "method not on the path", method: "DELETE", path: "/api/volunteers/0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11/status", wantStatus: 405, wantAllow: "PATCH", wantError: "Method not allowed"},
		{name: "two methods on the path", method: "PUT", path: "/api/events", body: "{}", wantStatus: 405, wantAllow: "GET, POST", wantError: "Method not allowed"},
		{name: "OPTIONS", method: "OPTIONS", path: "/api/events", wantStatus: 405, wantAllow: "GET, POST", wantError: "Method not allowed"},
		{name: "OPTIONS on a path with a parameter", method: "OPTIONS", path: "/api/events/0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11", wantStatus: 405, wantAllow: "GET, PATCH", wantError: "Method not allowed"},
		{name: "OPTIONS on an unknown path", method: "OPTIONS", path: "/api/nothing", wantStatus: 404, wantError: "Not found"},
		{name: "an admin path", method: "OPTIONS", path: "/api/admin/auth/login", wantStatus: 405, wantAllow: "POST", wantError: "Method not allowed"},
		{name: "an unknown admin path", method: "GET", path: "/api/admin/nothing", wantStatus: 404, wantError: "Not found"},
		{name: "gzip body", method: "POST", path: "/api/contact", body: `{"name":"A"}`, header: map[string]string{"Content-Encoding": "gzip"},
			wantStatus: 415, wantError: "Unsupported media type"},
		{name: "body too large", method: "POST", path: "/api/contact", body: `{"message":"` + strings.Repeat("x", 2000) + `"}`, wantStatus: 413, wantError: "Request body too large"},
		{name: "headers too large", method: "GET", path: "/api/events", header: map[string]string{"X-Big": strings.Repeat("x", web.MaxHeaderBytes)},
			wantStatus: 431, wantError: "Request headers too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, g.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, val := range tt.header {
				req.Header.Set(k, val)
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
			if e := errorBody(t, b); e.Message != tt.wantError || e.Detail == "" {
				t.Errorf("body %s, want error %q with a detail", b, tt.wantError)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if up := resp.Header.Get("X-Upstream"); up != "" {
				t.Errorf("the %s upstream was reached", up)
			}
		})
	}
}

// TestHEADGetsAllow: HEAD, which no operation of the document declares,
// is a 405 whose Allow lists what the path has (the body of an answer to
// HEAD is never sent).
func TestHEADGetsAllow(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true})
	tests := []struct{ path, wantAllow string }{
		{path: "/api/events", wantAllow: "GET, POST"},
		{path: "/api/sessions/book", wantAllow: "GET, POST"}, // GET /api/sessions/{id} matches too
		{path: "/api/contact/0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11/status", wantAllow: "PATCH"},
		{path: "/api/openapi.json", wantAllow: "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, _ := do(t, "HEAD", g.URL+tt.path, "", nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.wantAllow {
				t.Errorf("HEAD %s = %d, Allow %q; want 405, Allow %q", tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.wantAllow)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// rawExchange writes a request exactly as given to the gateway and reads
// the answer, with a deadline far beyond any timeout under test so a hang
// fails the test instead of stalling it.
func rawExchange(t *testing.T, base, raw string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + strings.Repeat(" ", 4096))))
	if err != nil {
		t.Fatalf("the test's request does not parse: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, b
}

// TestStalledBody: a body shorter than its Content-Length (the client
// stops sending) gets a JSON 408 after GATEWAY_BODY_READ_TIMEOUT, not a
// 504 once the upstream gives up: the upstream's header wait here is an
// hour, so only the body deadline can end the request.
func TestStalledBody(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true, bodyWait: 100 * time.Millisecond, headerWait: time.Hour})
	v := apitest.New(t)
	tests := []struct {
		name, raw string
	}{
		{name: "shorter than its Content-Length", raw: "POST /api/contact HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":"},
		{name: "a chunked body that stops", raw: "POST /api/contact HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"name\":\r\n"},
		{name: "nothing of the body", raw: "PUT /api/events/0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11/image HTTP/1.1\r\nHost: gw\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := rawExchange(t, g.URL, tt.raw)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d, want 408; body %s", resp.StatusCode, b)
			}
			if e := errorBody(t, b); e.Message != "Request timeout" {
				t.Errorf("body %s", b)
			}
			if !resp.Close {
				t.Error("the connection stays open after a body that never ended")
			}
			checkDocumented(t, v, tt.raw, resp, b)
		})
	}
	if !strings.Contains(g.Logs.String(), `"msg":"request body stalled"`) {
		t.Error("stalled bodies are not logged")
	}
}

// TestBodyKeepsArriving: the body deadline is per read, so a body that
// arrives in pieces, each within the deadline, is proxied whole however
// long it takes in all.
func TestBodyKeepsArriving(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true, bodyWait: 2 * time.Second})
	pr, pw := io.Pipe()
	go func() {
		for i := range 5 {
			_, _ = io.WriteString(pw, strings.Repeat("x", 10+i))
			time.Sleep(50 * time.Millisecond) // pieces apart, each well within the deadline
		}
		pw.Close()
	}()
	req, err := http.NewRequest("POST", g.URL+"/api/contact", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != string(route.Booking) {
		t.Fatalf("status %d from %q; body %s", resp.StatusCode, resp.Header.Get("X-Upstream"), b)
	}
}

// TestLengthRequired: an HTTP/1.0 body without Content-Length (it cannot
// be chunked, and net/http would read it as empty) is a JSON 411.
func TestLengthRequired(t *testing.T) {
	t.Parallel()
	g := newGateway(t, gwOptions{noLimits: true})
	v := apitest.New(t)
	raw := "POST /api/contact HTTP/1.0\r\nHost: gw\r\nContent-Type: application/json\r\n\r\n"
	resp, b := rawExchange(t, g.URL, raw)
	if resp.StatusCode != http.StatusLengthRequired {
		t.Fatalf("status %d, want 411; body %s", resp.StatusCode, b)
	}
	if e := errorBody(t, b); e.Message != "Length required" {
		t.Errorf("body %s", b)
	}
	checkDocumented(t, v, raw, resp, b)

	// With a length, HTTP/1.0 is proxied.
	resp, b = rawExchange(t, g.URL, "POST /api/contact HTTP/1.0\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	if resp.StatusCode != 200 {
		t.Errorf("HTTP/1.0 with Content-Length: %d %s", resp.StatusCode, b)
	}
}

// checkDocumented validates a raw exchange against the document.
func checkDocumented(t *testing.T, v *apitest.Validator, raw string, resp *http.Response, body []byte) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Body = http.NoBody // the body is what is at fault, not its content
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	for _, violation := range v.Check(req, resp) {
		t.Error(violation)
	}
}

// TestBodyDeadlineEndsWithTheBody: once the body has arrived, the body
// deadline is gone: an upstream that takes longer than it to answer is
// waited for (net/http would cancel the request if a deadline set after
// the body's end fired under its background read).
func TestBodyDeadlineEndsWithTheBody(t *testing.T) {
	t.Parallel()
	const bodyWait = 50 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		// The point is time passing beyond the deadline: nothing to await.
		time.Sleep(6 * bodyWait)
		w.Header().Set("X-Upstream", "booking")
		web.WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	}))
	t.Cleanup(slow.Close)
	g := newGateway(t, gwOptions{noLimits: true, bodyWait: bodyWait, upstreams: map[route.Owner]string{route.Booking: slow.URL}})
	for _, body := range []string{`{"name":"A"}`, strings.Repeat("x", 100<<10)} {
		resp, b := do(t, "POST", g.URL+"/api/contact", body, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "booking" {
			t.Errorf("%d-byte body: status %d; body %s", len(body), resp.StatusCode, b)
		}
	}
}

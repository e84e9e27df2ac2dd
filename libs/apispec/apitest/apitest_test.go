package apitest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeTB records what the validator reports instead of failing.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) reported() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errors...)
}

const eventPath = "/api/events/0190a000-0000-7000-8000-000000000001"

// TestCheck: the recording API accepts what the document allows and
// names what it does not.
func TestCheck(t *testing.T) {
	t.Parallel()
	v := New(t)
	tests := []struct {
		name                 string
		method, path, body   string
		status               int
		contentType, resBody string
		want                 string // in the one violation; "" for none
	}{
		{name: "documented error", method: "GET", path: eventPath, status: 404, contentType: "application/json", resBody: `{"error":"Not found"}`},
		{name: "valid request, documented answer", method: "GET", path: "/api/openapi.json", status: 200, contentType: "application/json", resBody: `{"openapi":"3.1.0","paths":{}}`},
		{name: "invalid request refused as documented", method: "POST", path: "/api/contact", body: `{"email":"c@example.com"}`,
			status: 422, contentType: "application/json", resBody: `{"error":"Invalid input","fields":{"name":"required"}}`},
		{name: "undocumented path answered with a JSON 404", method: "GET", path: "/api/nothing", status: 404, contentType: "application/json", resBody: `{"error":"Not found"}`},
		{name: "undocumented method answered with a JSON 405", method: "DELETE", path: "/api/events", status: 405, contentType: "application/json; charset=utf-8", resBody: `{"error":"Method not allowed"}`},
		{name: "CSV", method: "GET", path: "/api/admin/bulk/export/sessions", status: 200, contentType: "text/csv; charset=utf-8", resBody: "id,email\n1,a@example.com\n"},
		{name: "no-content answer", method: "DELETE", path: "/api/admin/dead-letters/7", status: 204},
		{name: "HEAD answered 405 without the body HEAD never has", method: "HEAD", path: "/api/events", status: 405, contentType: "application/json"},

		{name: "undocumented status", method: "GET", path: eventPath, status: 418, contentType: "application/json", resBody: `{"error":"teapot"}`, want: "does not document status 418"},
		{name: "wrong field type", method: "GET", path: eventPath, status: 404, contentType: "application/json", resBody: `{"error":5}`, want: "404 body"},
		{name: "missing required field", method: "GET", path: eventPath, status: 404, contentType: "application/json", resBody: `{"detail":"gone"}`, want: "404 body"},
		{name: "wrong content type", method: "GET", path: eventPath, status: 404, contentType: "text/plain", resBody: "Not found", want: `Content-Type "text/plain"`},
		{name: "invalid request accepted", method: "POST", path: "/api/contact", body: `{"email":"not-an-email","name":"C","message":"hi"}`,
			status: 201, contentType: "application/json", resBody: `{}`, want: "the document says the request is invalid"},
		{name: "undocumented path answered 200", method: "GET", path: "/api/nothing", status: 200, contentType: "application/json", resBody: `{}`, want: "no documented operation is GET /api/nothing"},
		{name: "undocumented method answered in text", method: "DELETE", path: "/api/events", status: 405, contentType: "text/plain", resBody: "Method Not Allowed", want: "want application/json"},
		{name: "body on a no-content answer", method: "DELETE", path: "/api/admin/dead-letters/7", status: 204, resBody: "x", want: "documents no body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer x")
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tt.resBody))}
			if tt.contentType != "" {
				resp.Header.Set("Content-Type", tt.contentType)
			}
			got := v.Check(req, resp)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("violations: %q", got)
			case tt.want != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.want)):
				t.Errorf("violations %q, want one with %q", got, tt.want)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != tt.resBody {
				t.Errorf("Check consumed the body: %q left", b)
			}
		})
	}
}

// TestHandler: the middleware reports a wrong response to the test and
// stays silent on a right one.
func TestHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{name: "documented", status: 404, body: `{"error":"Not found"}`},
		{name: "undocumented status", status: 418, body: `{"error":"teapot"}`, want: "does not document status 418"},
		{name: "extra field", status: 404, body: `{"error":"Not found","trace":"x"}`, want: "404 body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := &fakeTB{TB: t}
			h := New(tb).Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", eventPath, nil))
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("passed through %d %q", rec.Code, rec.Body)
			}
			assertReported(t, tb.reported(), tt.want)
		})
	}
}

// TestTransportStreamsLargeBodies: a body far over BodyCap reaches the
// caller whole and is checked for status and content type; a wrong type
// is still caught.
func TestTransportStreamsLargeBodies(t *testing.T) {
	t.Parallel()
	row := strings.Repeat("x", 99) + "\n"
	const rows = 3 * BodyCap / 100
	for _, tt := range []struct{ contentType, want string }{
		{contentType: "text/csv; charset=utf-8"},
		{contentType: "application/octet-stream", want: `Content-Type "application/octet-stream"`},
	} {
		t.Run(tt.contentType, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				for range rows {
					_, _ = io.WriteString(w, row)
				}
			}))
			t.Cleanup(srv.Close)
			tb := &fakeTB{TB: t}
			req, err := http.NewRequest("GET", srv.URL+"/api/admin/bulk/export/sessions", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer x")
			resp, err := New(tb).Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != int64(rows*len(row)) {
				t.Fatalf("read %d bytes (%v), want %d", n, err, rows*len(row))
			}
			assertReported(t, tb.reported(), tt.want)
		})
	}
}

// TestTransportChecksUnreadBodies: closing a body unread still checks it,
// and the request body reaches the server unchanged.
func TestTransportChecksUnreadBodies(t *testing.T) {
	t.Parallel()
	const sent = `{"email":"c@example.com","name":"C","message":"hello"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); string(b) != sent {
			t.Errorf("server got %q", b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"id":"not-a-uuid"}`)
	}))
	t.Cleanup(srv.Close)
	tb := &fakeTB{TB: t}
	resp, err := New(tb).Client().Post(srv.URL+"/api/contact", "application/json", bytes.NewReader([]byte(sent)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	assertReported(t, tb.reported(), "201 body")
}

// TestConcurrentUse shares one validator between goroutines (run with
// -race to see it is safe).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	tb := &fakeTB{TB: t}
	v := New(tb)
	h := v.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		_, _ = io.WriteString(w, `{"error":"Not found"}`)
	}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", eventPath, nil))
			}
		})
	}
	wg.Wait()
	assertReported(t, tb.reported(), "")
}

func assertReported(t *testing.T, got []string, want string) {
	t.Helper()
	switch {
	case want == "" && len(got) > 0:
		t.Errorf("reported %q, want nothing", got)
	case want != "" && !strings.Contains(strings.Join(got, "\n"), want):
		t.Errorf("reported %q, want %q", got, want)
	}
}

package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "uuid", id: "0190f5a2-7c1e-7000-8000-000000000001", want: true},
		{name: "visible ascii", id: "req-1_2.3:~!#$%&'()*+,/;<=>?@[]^`{|}", want: true},
		{name: "one character", id: "x", want: true},
		{name: "128 characters", id: strings.Repeat("a", 128), want: true},
		{name: "empty", id: "", want: false},
		{name: "129 characters", id: strings.Repeat("a", 129), want: false},
		{name: "space", id: "a b", want: false},
		{name: "quote breaks a log line", id: `a"b`, want: false},
		{name: "backslash", id: `a\b`, want: false},
		{name: "newline forges a log line", id: "a\nlevel=ERROR", want: false},
		{name: "delete", id: "a\x7f", want: false},
		{name: "non-ascii", id: "café", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ValidRequestID(tt.id); got != tt.want {
				t.Errorf("ValidRequestID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

// TestRequestIDs: a valid id from the client (the gateway) is kept end to
// end; anything else is replaced by a fresh one, never echoed; the id the
// handler sees in its context is the one on the response and on the
// request's header (which the proxying gateway forwards).
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	fresh := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		incoming string
		wantKept bool
	}{
		{name: "valid id kept", incoming: "gw-0190f5a2", wantKept: true},
		{name: "missing id made", incoming: ""},
		{name: "invalid id replaced", incoming: "bad id\r\nX-Evil: 1"},
		{name: "overlong id replaced", incoming: strings.Repeat("z", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var inCtx, onRequest string
			h := RequestIDs(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				inCtx, onRequest = RequestID(r.Context()), r.Header.Get(HeaderRequestID)
			}))
			req := httptest.NewRequest(http.MethodGet, "/api/x", nil)
			if tt.incoming != "" {
				req.Header.Set(HeaderRequestID, tt.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			echoed := rec.Header().Get(HeaderRequestID)
			if echoed != inCtx || onRequest != inCtx {
				t.Errorf("response id %q, context id %q, request header %q: want one id", echoed, inCtx, onRequest)
			}
			if tt.wantKept {
				if echoed != tt.incoming {
					t.Errorf("id %q, want the client's %q kept", echoed, tt.incoming)
				}
			} else if !fresh.MatchString(echoed) {
				t.Errorf("id %q, want a fresh 128-bit hex id", echoed)
			}
		})
	}
	if a, b := NewRequestID(), NewRequestID(); a == b {
		t.Errorf("two fresh ids are equal: %s", a)
	}
	if got := RequestID(t.Context()); got != "" {
		t.Errorf("RequestID outside a request = %q, want empty", got)
	}
}

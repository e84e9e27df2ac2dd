package fastpath

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestAddLines pins the contract of the AddLines the fork adds to
// fasthttp's headers (third_party/fasthttp/README.md): the lines are
// written as they are, after the other fields, and Reset and CopyTo
// treat them as part of the header.
func TestAddLines(t *testing.T) {
	var rh fasthttp.ResponseHeader
	rh.SetStatusCode(fasthttp.StatusOK)
	rh.SetCanonical([]byte("X-Upstream"), []byte("1"))
	rh.AddLines([]byte("X-A: 1\r\n"))
	rh.AddLines([]byte("X-B: 2\r\n"))
	if got := rh.String(); !strings.HasSuffix(got, "X-Upstream: 1\r\nX-A: 1\r\nX-B: 2\r\n\r\n") {
		t.Errorf("response header:\n%s", got)
	}
	var copied fasthttp.ResponseHeader
	rh.CopyTo(&copied)
	if got := string(copied.Lines()); got != "X-A: 1\r\nX-B: 2\r\n" {
		t.Errorf("copied lines %q", got)
	}
	rh.Reset()
	if len(rh.Lines()) != 0 || strings.Contains(rh.String(), "X-A") {
		t.Errorf("lines after Reset: %q", rh.Lines())
	}

	var qh fasthttp.RequestHeader
	qh.SetMethod(fasthttp.MethodGet)
	qh.SetRequestURI("/api/events")
	qh.SetHost("booking")
	qh.AddLines([]byte("X-Real-Ip: 127.0.0.1\r\n"))
	if got := qh.String(); !strings.HasSuffix(got, "Host: booking\r\nX-Real-Ip: 127.0.0.1\r\n\r\n") {
		t.Errorf("request header:\n%s", got)
	}
}

func TestAppendClientLine(t *testing.T) {
	tests := []struct{ value, want string }{
		{"203.0.113.7", "X-Forwarded-For: 203.0.113.7\r\n"},
		{"a\rb\nc", "X-Forwarded-For: a b c\r\n"},
		{"a\n", "X-Forwarded-For: a \r\n"},
		{"", "X-Forwarded-For: \r\n"},
	}
	for _, tt := range tests {
		if got := string(appendClientLine([]byte("prefix\r\n"), keyForwardedFor, tt.value)); got != "prefix\r\n"+tt.want {
			t.Errorf("appendClientLine(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}

func TestAnswerLines(t *testing.T) {
	rq := &request{}
	rq.idLen = copy(rq.idBuf[:], "req-1")
	tests := []struct {
		name     string
		upstream map[string]string // the answer's own fields
		may      fields
		want     string
	}{
		{
			name: "the defaults", want: "X-Request-Id: req-1\r\nX-Content-Type-Options: nosniff\r\n" +
				"Cache-Control: no-store\r\nContent-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n",
		},
		{
			name: "the answer's own Cache-Control and CSP stay", upstream: map[string]string{"Cache-Control": "max-age=60", "Content-Security-Policy": "x"},
			may: fieldCacheControl | fieldCSP, want: "X-Request-Id: req-1\r\nX-Content-Type-Options: nosniff\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h fasthttp.ResponseHeader
			for k, v := range tt.upstream {
				h.Set(k, v)
			}
			answerLines(&h, rq, tt.may)
			if got := string(h.Lines()); got != tt.want {
				t.Errorf("lines\n%q, want\n%q", got, tt.want)
			}
		})
	}
}

package fastpath

import (
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/proxy"
)

func TestFieldNames(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{name: "empty", raw: "", want: nil},
		{name: "CRLF lines", raw: "Host: a\r\nConnection: close\r\n\r\n", want: []string{"Host", "Connection"}},
		{name: "bare LF, no final newline", raw: "Host: a\nTE: x", want: []string{"Host", "TE"}},
		{name: "line without colon skipped", raw: "GET / HTTP/1.1\r\nHost: a\r\n", want: []string{"Host"}},
		{name: "colon first skipped", raw: ": x\nA:b", want: []string{"A"}},
		{name: "name as written", raw: " Keep-Alive :1\n", want: []string{" Keep-Alive "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for n := range fieldNames([]byte(tt.raw)) {
				got = append(got, string(n))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fieldNames(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestFieldsOf(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		cl   int // the request's ContentLength(): -1 chunked
		want fields
	}{
		{name: "none", raw: "Host: a\r\nAccept: */*\r\n", want: 0},
		{name: "framing fields, any case", raw: "Host: a\r\ntransfer-ENCODING: chunked\r\nContent-Length: 3\r\n",
			want: fieldTransferEncoding | fieldContentLength},
		{name: "framing fields need the colon right after the name", raw: "Content-Length : 3\r\n", want: 0},
		{name: "proxied fields trimmed, any case", raw: "x-request-id: 1\r\n EXPECT : 100-continue\r\nX-Forwarded-For: 1.2.3.4\r\n",
			want: fieldRequestID | fieldExpect | fieldForwardedFor},
		{name: "a plain hop-by-hop field, trimmed", raw: "Host: a\r\n Keep-Alive : 5\r\n", want: fieldPlainHop},
		{name: "each plain hop-by-hop field", raw: "proxy-connection: x\nTE: trailers\nupgrade: h2c\n", want: fieldPlainHop | fieldUpgrade},
		{name: "the security fields an answer may choose, trimmed, any case", raw: "cache-control: max-age=60\r\n CONTENT-SECURITY-POLICY : x\r\n",
			want: fieldCacheControl | fieldCSP},
		{name: "Connection and Trailer, trimmed, any case", raw: "connection: close\r\n TRAILER : X\r\n", want: fieldConnection | fieldTrailer},
		{name: "the request fields the gateway writes itself, trimmed, any case",
			raw: "x-real-ip: 6.6.6.6\r\n X-FORWARDED-HOST : a\r\n", want: fieldOwnRequest},
		{name: "the answer fields the gateway writes itself, any case",
			raw: "x-ratelimit-limit: 9\r\nRateLimit: x\r\nX-Content-Type-Options: sniff\r\n", want: fieldOwnAnswer},
		{name: "a name that only shares an own name's length", raw: "X-Real-Ipp: 1\r\nX-Forwarded-Hosx: 1\r\n", want: 0},
		{name: "chunked: the trailers may hold what the proxy deletes", raw: "Transfer-Encoding: chunked\r\n", cl: -1,
			want: fieldTransferEncoding | mayTrail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requestFields([]byte(tt.raw), tt.cl); got != tt.want {
				t.Errorf("requestFields(%q, %d) = %016b, want %016b", tt.raw, tt.cl, got, tt.want)
			}
		})
	}
	// An answer's framing fields are not looked for.
	if got := messageFields(fieldNames([]byte("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")), 3, false); got != 0 {
		t.Errorf("an answer's fields = %016b, want none", got)
	}
	raw := []byte("Host: a\r\nTransfer-Encoding: chunked\r\n Keep-Alive : 5\r\n")
	if n := testing.AllocsPerRun(100, func() { _ = requestFields(raw, -1) }); n != 0 {
		t.Errorf("requestFields allocates %.0f times per run", n)
	}
}

// TestCanonicalKeys: the keys given to fasthttp's ...Canonical methods
// are in the form its parser stores (textproto's): a key in another
// spelling would never match a received field.
func TestCanonicalKeys(t *testing.T) {
	for _, k := range []string{keyRequestID, keyClientIP, keyForwardedFor, keyForwardedHost, keyForwardedProto,
		keyDeclared, keyConnection, keyTrailer, keyUpgrade, keyContentEncoding, keyNoSniff, keyCacheControl, keyCSP} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("key %q is not canonical: %q", k, c)
		}
	}
	for _, tt := range []struct{ key, same string }{
		{keyRequestID, web.HeaderRequestID},
		{keyClientIP, proxy.HeaderClientIP},
	} {
		if !strings.EqualFold(tt.key, tt.same) {
			t.Errorf("key %q names another field than %q", tt.key, tt.same)
		}
	}
}

// TestNameLengths: each name set's length mask (inNames) has the bits
// of its names' lengths, and no others.
func TestNameLengths(t *testing.T) {
	for _, tt := range []struct {
		name    string
		lengths uint64
		names   []string
	}{
		{"plainHopLengths", plainHopLengths, plainHop[:]},
		{"ownRequestLengths", ownRequestLengths, ownRequestNames[:]},
		{"ownAnswerLengths", ownAnswerLengths, ownAnswerNames[:]},
	} {
		var want uint64
		for _, k := range tt.names {
			want |= 1 << len(k)
		}
		if tt.lengths != want {
			t.Errorf("%s = %b, want %b (the lengths of its names)", tt.name, tt.lengths, want)
		}
	}
}

func TestPlainLines(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"", true},
		{"Host: a\r\n", true},
		{"Host: a\r\nAccept: */*\r\n\r\n", true},
		{"Host: a", true}, // no line end at all
		{"Host: a\n", false},
		{"\nHost: a\r\n", false},
		{"Host: a\r\nX: b\nY: c\r\n", false},
		{"Host: a\r\n folded\r\n", false},
		{"Host: a\r\n\tfolded\r\n", false},
		{"Host: a \r\nX: b\r\n", true}, // a space before CRLF is no fold
	}
	for _, tt := range tests {
		if got := plainLines([]byte(tt.raw)); got != tt.want {
			t.Errorf("plainLines(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

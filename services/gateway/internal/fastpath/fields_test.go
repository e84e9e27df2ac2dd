package fastpath

import (
	"slices"
	"testing"
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

func TestHeaderFieldChecks(t *testing.T) {
	raw := []byte("Host: a\r\nTransfer-Encoding: chunked\r\n Keep-Alive : 5\r\n")
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"hasField exact case-insensitive", hasField(raw, "transfer-encoding"), true},
		{"hasField absent", hasField(raw, "content-length"), false},
		{"hasField needs the colon right after the name", hasField(raw, "keep-alive"), false},
		{"hasPlainHop trims the name", hasPlainHop(raw), true},
		{"hasPlainHop none", hasPlainHop([]byte("Host: a\r\nAccept: */*\r\n")), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = hasField(raw, "transfer-encoding") || hasPlainHop(raw) }); n != 0 {
		t.Errorf("the checks allocate %.0f times per run", n)
	}
}

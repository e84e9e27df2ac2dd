package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	c := NewClientIP([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")})
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{name: "direct client", remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "direct client spoofing the header", remote: "203.0.113.7:5555", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "through the gateway", remote: "127.0.0.1:4000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "client-supplied hop left of the real one is ignored", remote: "127.0.0.1:4000", xff: []string{"1.2.3.4, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted hops are skipped", remote: "127.0.0.1:4000", xff: []string{"198.51.100.1, 10.1.2.3"}, want: "198.51.100.1"},
		{name: "several headers", remote: "127.0.0.1:4000", xff: []string{"198.51.100.1", "10.1.2.3"}, want: "198.51.100.1"},
		{name: "gateway without header", remote: "127.0.0.1:4000", want: "127.0.0.1"},
		{name: "garbage hop", remote: "127.0.0.1:4000", xff: []string{"198.51.100.1, nonsense"}, want: "127.0.0.1"},
		{name: "ipv6 client", remote: "127.0.0.1:4000", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "v4-mapped peer", remote: "[::ffff:127.0.0.1]:4000", xff: []string{"198.51.100.9"}, want: "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.Of(r); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

package clientip

import (
	"net/http"
	"testing"
)

func TestClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		trusted  []string
		remote   string
		xff      []string
		wantAddr string
		wantKey  string
	}{
		{name: "peer only", remote: "203.0.113.7:5555", wantAddr: "203.0.113.7", wantKey: "203.0.113.7"},
		{name: "spoofed header from untrusted peer", remote: "203.0.113.7:5555", xff: []string{"1.2.3.4"}, wantAddr: "203.0.113.7", wantKey: "203.0.113.7"},
		{name: "spoofed header, proxies configured, peer not one", trusted: []string{"10.0.0.0/8"}, remote: "203.0.113.7:5555", xff: []string{"10.1.1.1"}, wantAddr: "203.0.113.7", wantKey: "203.0.113.7"},
		{name: "trusted ingress", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9"}, wantAddr: "198.51.100.9", wantKey: "198.51.100.9"},
		{name: "walk right to left past trusted hops", trusted: []string{"10.0.0.0/8", "192.168.1.1"}, remote: "10.0.0.2:80",
			xff: []string{"6.6.6.6, 198.51.100.9, 192.168.1.1"}, wantAddr: "198.51.100.9", wantKey: "198.51.100.9"},
		{name: "client prepends a fake hop", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80",
			xff: []string{"127.0.0.1", "198.51.100.9"}, wantAddr: "198.51.100.9", wantKey: "198.51.100.9"},
		{name: "all hops trusted: leftmost", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"10.9.9.9, 10.0.0.3"}, wantAddr: "10.9.9.9", wantKey: "10.9.9.9"},
		{name: "garbage stops the walk", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"1.1.1.1, evil, 10.0.0.3"}, wantAddr: "10.0.0.3", wantKey: "10.0.0.3"},
		{name: "hop with port", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9:4711"}, wantAddr: "198.51.100.9", wantKey: "198.51.100.9"},
		{name: "no header behind trusted peer", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", wantAddr: "10.0.0.2", wantKey: "10.0.0.2"},
		{name: "ipv6 grouped by /64", remote: "[2001:db8:1:2:aaaa::1]:443", wantAddr: "2001:db8:1:2:aaaa::1", wantKey: "2001:db8:1:2::/64"},
		{name: "ipv4-mapped peer", remote: "[::ffff:203.0.113.7]:443", wantAddr: "203.0.113.7", wantKey: "203.0.113.7"},
		{name: "trusted ipv6 proxy", trusted: []string{"fd00::/8"}, remote: "[fd00::1]:80", xff: []string{"2001:db8:5::9"}, wantAddr: "2001:db8:5::9", wantKey: "2001:db8:5::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := New(tt.trusted, 64)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := res.Client(r)
			if got.Addr != tt.wantAddr || got.Key != tt.wantKey {
				t.Errorf("Client() = %+v, want addr %s key %s", got, tt.wantAddr, tt.wantKey)
			}
		})
	}
}

func TestNewRejectsBadCIDR(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0/8"} {
		if _, err := New([]string{bad}, 64); err == nil {
			t.Errorf("New(%q): want an error", bad)
		}
	}
}

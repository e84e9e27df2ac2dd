package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrusted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		entries  []string
		inside   []string
		outside  []string
		wantErr  string
		wantNone bool
	}{
		{name: "cidrs and single addresses", entries: []string{"10.244.0.0/16", "192.168.1.1", "::1", "fd00::/8"},
			inside: []string{"10.244.3.4", "192.168.1.1", "::1", "fd00::9", "::ffff:10.244.0.1"}, outside: []string{"10.245.0.1", "192.168.1.2", "::2", "fe00::1"}},
		{name: "spaces and empty entries", entries: []string{" 10.0.0.0/8 ", "", "  ", "\t127.0.0.1"},
			inside: []string{"10.1.2.3", "127.0.0.1"}, outside: []string{"11.0.0.1"}},
		{name: "host bits masked", entries: []string{"10.1.2.3/8"}, inside: []string{"10.200.0.1"}},
		{name: "ipv4-mapped cidr is its ipv4 network", entries: []string{"::ffff:10.0.0.0/104"}, inside: []string{"10.9.9.9"}, outside: []string{"11.0.0.1"}},
		{name: "zone dropped", entries: []string{"fe80::1%eth0"}, inside: []string{"fe80::1", "fe80::1%lo"}},
		{name: "none", entries: nil, outside: []string{"127.0.0.1"}, wantNone: true},
		{name: "prefix too long", entries: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33"`},
		{name: "not an address", entries: []string{"10.0.0.0/8", "gateway.acube.svc"}, wantErr: `"gateway.acube.svc"`},
		{name: "short ipv4", entries: []string{"10.0.0/8"}, wantErr: `"10.0.0/8"`},
		{name: "leading zeros", entries: []string{"010.0.0.1"}, wantErr: `"010.0.0.1"`},
		{name: "port", entries: []string{"10.0.0.1:80"}, wantErr: `"10.0.0.1:80"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrusted(tt.entries)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTrusted(%q) error = %v, want one naming %s", tt.entries, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNone != (len(got.prefixes) == 0) {
				t.Errorf("prefixes %v", got.prefixes)
			}
			for _, s := range tt.inside {
				if !got.Contains(netip.MustParseAddr(s)) {
					t.Errorf("%s not trusted by %q", s, tt.entries)
				}
			}
			for _, s := range tt.outside {
				if got.Contains(netip.MustParseAddr(s)) {
					t.Errorf("%s trusted by %q", s, tt.entries)
				}
			}
		})
	}
}

func TestClient(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("1.1.1.1, ", 10000) + "198.51.100.9"
	trustedChain := strings.Repeat("10.0.0.7, ", 40) + "10.0.0.3"
	tests := []struct {
		name     string
		trusted  []string
		remote   string
		xff      []string
		wantAddr string
		wantKey  string // empty: wantAddr
	}{
		{name: "peer only", remote: "203.0.113.7:5555", wantAddr: "203.0.113.7"},
		{name: "spoofed header from untrusted peer", remote: "203.0.113.7:5555", xff: []string{"1.2.3.4"}, wantAddr: "203.0.113.7"},
		{name: "spoofed header, proxies configured, peer not one", trusted: []string{"10.0.0.0/8"}, remote: "203.0.113.7:5555", xff: []string{"10.1.1.1"}, wantAddr: "203.0.113.7"},
		{name: "trusted ingress", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9"}, wantAddr: "198.51.100.9"},
		{name: "walk right to left past trusted hops", trusted: []string{"10.0.0.0/8", "192.168.1.1"}, remote: "10.0.0.2:80",
			xff: []string{"6.6.6.6, 198.51.100.9, 192.168.1.1"}, wantAddr: "198.51.100.9"},
		{name: "client prepends a fake hop", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80",
			xff: []string{"127.0.0.1", "198.51.100.9"}, wantAddr: "198.51.100.9"},
		{name: "gateway behind ingress: service sees both hops", trusted: []string{"10.244.0.0/16"}, remote: "10.244.1.5:41000",
			xff: []string{"203.0.113.50, 10.244.0.9"}, wantAddr: "203.0.113.50"},
		{name: "several header lines, last line rightmost", trusted: []string{"127.0.0.0/8", "10.0.0.0/8"}, remote: "127.0.0.1:4000",
			xff: []string{"198.51.100.1", "10.1.2.3"}, wantAddr: "198.51.100.1"},
		{name: "all hops trusted: leftmost", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"10.9.9.9, 10.0.0.3"}, wantAddr: "10.9.9.9"},
		{name: "no header behind trusted peer", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", wantAddr: "10.0.0.2"},
		{name: "hop with port", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9:4711"}, wantAddr: "198.51.100.9"},
		{name: "bracketed ipv6 hop with port", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"[2001:db8::5]:443"}, wantAddr: "2001:db8::5", wantKey: "2001:db8::/64"},
		{name: "bracketed ipv6 hop without port", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"[2001:db8::5]"}, wantAddr: "2001:db8::5", wantKey: "2001:db8::/64"},
		{name: "spaces and tabs around hops", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{" \t198.51.100.9 ,  10.0.0.3\t"}, wantAddr: "198.51.100.9"},
		{name: "ipv6 grouped by /64", remote: "[2001:db8:1:2:aaaa::1]:443", wantAddr: "2001:db8:1:2:aaaa::1", wantKey: "2001:db8:1:2::/64"},
		{name: "ipv4-mapped peer", remote: "[::ffff:203.0.113.7]:443", wantAddr: "203.0.113.7"},
		{name: "ipv4-mapped hop", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"::ffff:198.51.100.9"}, wantAddr: "198.51.100.9"},
		{name: "trusted ipv6 proxy", trusted: []string{"fd00::/8"}, remote: "[fd00::1]:80", xff: []string{"2001:db8:5::9"}, wantAddr: "2001:db8:5::9", wantKey: "2001:db8:5::/64"},
		{name: "zone on a hop is dropped", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"fe80::1%<script>"}, wantAddr: "fe80::1", wantKey: "fe80::/64"},
		{name: "zone on a trusted hop does not hide it", trusted: []string{"10.0.0.0/8", "fe80::/10"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9, fe80::1%eth0"}, wantAddr: "198.51.100.9"},
		{name: "zoned link-local peer is trusted", trusted: []string{"fe80::/10"}, remote: "[fe80::1%eth0]:80", xff: []string{"198.51.100.9"}, wantAddr: "198.51.100.9"},
		{name: "garbage stops the walk", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"1.1.1.1, evil, 10.0.0.3"}, wantAddr: "10.0.0.3"},
		{name: "garbage right of the client: the proxy", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9, <script>"}, wantAddr: "10.0.0.2"},
		{name: "empty entry stops the walk", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9, , 10.0.0.3"}, wantAddr: "10.0.0.3"},
		{name: "trailing comma", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9,"}, wantAddr: "10.0.0.2"},
		{name: "empty header value", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{""}, wantAddr: "10.0.0.2"},
		{name: "leading zeros are garbage", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.051.100.9"}, wantAddr: "10.0.0.2"},
		{name: "host name is garbage", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"localhost"}, wantAddr: "10.0.0.2"},
		{name: "space inside a hop is garbage", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9 1.2.3.4"}, wantAddr: "10.0.0.2"},
		{name: "overlong hop is garbage", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"2001:db8::1%" + strings.Repeat("z", 100)}, wantAddr: "10.0.0.2"},
		{name: "very long header: only the right end is read", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{long}, wantAddr: "198.51.100.9"},
		{name: "too many trusted hops stop the walk", trusted: []string{"10.0.0.0/8"}, remote: "10.0.0.2:80", xff: []string{"198.51.100.9, " + trustedChain}, wantAddr: "10.0.0.7"},
		{name: "unix socket peer passed through", remote: "@", wantAddr: "@"},
		{name: "peer without port", remote: "203.0.113.7", wantAddr: "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := New(Config{TrustedProxies: tt.trusted, IPv6Prefix: 64})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			wantKey := tt.wantKey
			if wantKey == "" {
				wantKey = tt.wantAddr
			}
			got := res.Client(r)
			if got.Addr != tt.wantAddr || got.Key != wantKey {
				t.Errorf("Client() = %+v, want addr %s key %s", got, tt.wantAddr, wantKey)
			}
			// Proxied: the peer is one of the row's trusted proxies.
			peer, err := netip.ParseAddrPort(tt.remote)
			wantProxied := err == nil && res.Trusts(peer.Addr().WithZone("").Unmap())
			if got.Proxied != wantProxied {
				t.Errorf("Client().Proxied = %v, want %v", got.Proxied, wantProxied)
			}
			if a := res.Addr(r); a != got.Addr {
				t.Errorf("Addr() = %s, Client().Addr = %s", a, got.Addr)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "defaults", cfg: Config{}},
		{name: "bad proxy", cfg: Config{TrustedProxies: []string{"10.0.0.0/99"}}, wantErr: true},
		{name: "negative prefix", cfg: Config{IPv6Prefix: -1}, wantErr: true},
		{name: "prefix too long", cfg: Config{IPv6Prefix: 129}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("New(%+v) error = %v, want error %v", tt.cfg, err, tt.wantErr)
			}
		})
	}
}

// TestIPv6PrefixZeroKeysEachAddress: the services, which only record an
// address, leave the prefix unset; the key is then the address itself.
func TestIPv6PrefixZeroKeysEachAddress(t *testing.T) {
	t.Parallel()
	res, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := &http.Request{RemoteAddr: "[2001:db8:1:2::7]:1", Header: http.Header{}}
	if got := res.Client(r); got.Key != "2001:db8:1:2::7" {
		t.Errorf("key %q", got.Key)
	}
}

func BenchmarkClient(b *testing.B) {
	res, err := New(Config{TrustedProxies: []string{"10.0.0.0/8"}, IPv6Prefix: 64})
	if err != nil {
		b.Fatal(err)
	}
	direct := &http.Request{RemoteAddr: "203.0.113.7:5555", Header: http.Header{}}
	proxied := &http.Request{RemoteAddr: "10.0.0.2:80", Header: http.Header{"X-Forwarded-For": {"198.51.100.9, 10.0.0.3"}}}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			_ = res.Client(direct)
		}
	})
	b.Run("proxied", func(b *testing.B) {
		for b.Loop() {
			_ = res.Client(proxied)
		}
	})
}

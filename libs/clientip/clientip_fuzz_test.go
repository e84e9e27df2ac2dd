package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClient feeds arbitrary peer addresses and X-Forwarded-For headers
// to the resolver: an untrusted peer is always the client whatever the
// header says; behind a trusted peer the client is the peer or one of the
// header's hops; the client's address always parses back to itself (no
// zone, no text from the header beyond an address) and the rate-limit
// key is never empty for a parseable peer.
func FuzzClient(f *testing.F) {
	f.Add("127.0.0.1:5000", "203.0.113.7", "")
	f.Add("127.0.0.1:5000", "198.51.100.1, 10.0.0.2", "203.0.113.9")
	f.Add("203.0.113.7:1", "1.2.3.4", "")
	f.Add("[::1]:80", "[2001:db8::1]:443, ::ffff:10.0.0.1", "garbage")
	f.Add("[::1]:80", "fe80::1%evil", "[2001:db8::1]")
	f.Add("::ffff:127.0.0.1", ",,,", " ")
	f.Add("nonsense", "1.1.1.1", "")
	res, err := New(Config{TrustedProxies: []string{"127.0.0.0/8", "::1", "10.0.0.0/8"}, IPv6Prefix: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		bare := res.Client(r)
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				r.Header.Add("X-Forwarded-For", v)
			}
		}
		got := res.Client(r)
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		peer, err := netip.ParseAddr(host)
		if err != nil {
			return // an unparseable peer (a Unix socket) is passed through as text
		}
		peer = canonical(peer)
		if got.Key == "" || got.Addr == "" {
			t.Fatalf("empty client %+v for peer %q", got, remote)
		}
		a, err := netip.ParseAddr(got.Addr)
		if err != nil || a.String() != got.Addr || a.Zone() != "" {
			t.Fatalf("client address %q is not a canonical address", got.Addr)
		}
		if !res.trusted.Contains(peer) {
			if got != bare {
				t.Fatalf("untrusted peer %q: header %q changed the client from %+v to %+v", remote, xff1+"|"+xff2, bare, got)
			}
			return
		}
		if a == peer {
			return
		}
		found := false
		for _, v := range []string{xff1, xff2} {
			for hop := range strings.SplitSeq(v, ",") {
				if h, ok := parseHop(hop); ok && h == a {
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("client %q is neither the peer %q nor a hop of %q", got.Addr, remote, xff1+"|"+xff2)
		}
	})
}

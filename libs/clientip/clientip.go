// Package clientip decides who a request comes from: the one reader of a
// client address for the gateway's rate limits and every service's audit
// trail. The peer address is the truth unless the peer is a proxy we
// configured as trusted; only then is X-Forwarded-For read, right to left,
// skipping further trusted hops, and the first untrusted hop is the client.
// A client can put anything in that header, so a header from an untrusted
// peer changes nothing, and a malformed entry stops the walk at the last
// address a trusted proxy vouched for.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Limits on what a walk reads, so a hostile header costs little: a hop
// longer than any address with port and zone is garbage, and past maxHops
// trusted hops the walk stops (no real chain of proxies is that deep).
const (
	maxHopLen = 64
	maxHops   = 32
)

// Trusted is a parsed list of trusted proxies: the peers whose
// X-Forwarded-For is believed.
type Trusted struct {
	prefixes []netip.Prefix
}

// ParseTrusted reads a trusted-proxy list as the services' configuration
// gives it (TRUSTED_PROXIES, BOOKING_TRUSTED_PROXIES, ...): each entry a
// CIDR (10.244.0.0/16, fd00::/8) or a single address (192.168.1.1, ::1),
// surrounding spaces ignored, empty entries skipped. A CIDR with host bits
// set is masked; an IPv4-mapped entry (::ffff:10.0.0.0/104) means its IPv4
// network; an IPv6 zone is dropped. An entry that is none of these is an
// error naming it.
func ParseTrusted(entries []string) (Trusted, error) {
	var t Trusted
	for _, s := range entries {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return Trusted{}, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			a = canonical(a)
			t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Trusted{}, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// Contains reports whether a is a trusted proxy.
func (t Trusted) Contains(a netip.Addr) bool {
	a = canonical(a)
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Config says whom to believe and how to group clients.
type Config struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed, in
	// ParseTrusted's format; empty believes no header.
	TrustedProxies []string
	// IPv6Prefix is how many leading bits of an IPv6 client its Key keeps
	// (64: a host's usual allocation); 0 or 128 keys each address alone.
	IPv6Prefix int
}

// Resolver finds a request's client.
type Resolver struct {
	trusted    Trusted
	ipv6Prefix int
}

// New parses cfg.TrustedProxies and returns the resolver.
func New(cfg Config) (*Resolver, error) {
	t, err := ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	if cfg.IPv6Prefix < 0 || cfg.IPv6Prefix > 128 {
		return nil, fmt.Errorf("ipv6 client prefix %d: want 0..128", cfg.IPv6Prefix)
	}
	r := &Resolver{trusted: t, ipv6Prefix: cfg.IPv6Prefix}
	if r.ipv6Prefix == 0 {
		r.ipv6Prefix = 128
	}
	return r, nil
}

// Client is who a request comes from.
type Client struct {
	// Addr is the client's address, e.g. 203.0.113.7 or 2001:db8::1
	// (IPv4-mapped addresses unmapped, zones dropped).
	Addr string
	// Key identifies the client for rate limiting: the address, or for
	// IPv6 its prefix (2001:db8:1:2::/64).
	Key string
	// Proxied is set when the peer is a trusted proxy, whose
	// X-Forwarded-For was read (and which a proxy may extend).
	Proxied bool
}

// Addr returns the address of r's client (Client(r).Addr), for audit
// records.
func (res *Resolver) Addr(r *http.Request) string { return res.Client(r).Addr }

// Client returns the client of r: the peer, or behind trusted proxies the
// right-most untrusted X-Forwarded-For entry. If every hop is trusted the
// left-most one is the client. A malformed entry (garbage, an empty
// entry, a hop longer than any address) or more than maxHops trusted hops
// stop the walk at the last good address, so the header can never pick an
// identity a trusted proxy did not write. A peer that is not an address
// (a Unix socket) is returned as its text.
func (res *Resolver) Client(r *http.Request) Client {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return Client{Addr: host, Key: host}
	}
	if peer.Is4() && !res.Trusts(peer) {
		// The common case, on every request of the gateway: the
		// peer's own text is the canonical form already.
		return Client{Addr: host, Key: host}
	}
	return res.ClientFrom(peer, r.Header.Values("X-Forwarded-For"))
}

// Trusts reports whether peer is a trusted proxy, one whose
// X-Forwarded-For is read.
func (res *Resolver) Trusts(peer netip.Addr) bool {
	return len(res.trusted.prefixes) > 0 && res.trusted.Contains(peer)
}

// ClientFrom is Client for servers other than net/http (the gateway's
// fasthttp data path): peer is the connection's remote address and
// forwardedFor the request's X-Forwarded-For field values in order, read
// only when peer is trusted (callers may pass nil otherwise).
func (res *Resolver) ClientFrom(peer netip.Addr, forwardedFor []string) Client {
	peer = canonical(peer)
	if !res.Trusts(peer) {
		return res.client(peer)
	}
	c := res.client(res.forwarded(peer, forwardedFor))
	c.Proxied = true
	return c
}

// forwarded is the client a trusted peer's X-Forwarded-For values name:
// the right-most untrusted hop, or where the walk stops (ClientFrom).
func (res *Resolver) forwarded(peer netip.Addr, values []string) netip.Addr {
	client := peer
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			var hop string
			j := strings.LastIndexByte(v, ',')
			if j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop = v
			}
			a, ok := parseHop(hop)
			if !ok || hops == maxHops {
				return client
			}
			hops++
			client = a
			if !res.trusted.Contains(a) {
				return a
			}
			if j < 0 {
				break
			}
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets ([2001:db8::1]:443), surrounded by spaces.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxHopLen {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return canonical(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return canonical(ap.Addr()), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return canonical(a), true
		}
	}
	return netip.Addr{}, false
}

// canonical is a as it is compared and recorded: IPv4-mapped IPv6 as
// IPv4, without an IPv6 zone (client-chosen text, and a zoned address
// never matches a prefix).
func canonical(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// client renders a.
func (res *Resolver) client(a netip.Addr) Client {
	addr := a.String()
	c := Client{Addr: addr, Key: addr}
	if a.Is6() && res.ipv6Prefix < 128 {
		if p, err := a.Prefix(res.ipv6Prefix); err == nil {
			c.Key = p.String()
		}
	}
	return c
}

// Package clientip decides who a request comes from, for rate limiting and
// for the services' audit trail. The peer address is the truth unless the
// peer is a proxy we configured as trusted; only then is X-Forwarded-For
// read, right to left, skipping further trusted hops. A client can put
// anything in that header, so a header from an untrusted peer changes
// nothing.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds a request's client.
type Resolver struct {
	trusted    []netip.Prefix
	ipv6Prefix int
}

// New parses the trusted proxy CIDRs (a bare address means /32 or /128).
// IPv6 clients are grouped by their first ipv6Prefix bits (64 is a host's
// usual allocation; 128 counts each address alone).
func New(trustedCIDRs []string, ipv6Prefix int) (*Resolver, error) {
	r := &Resolver{ipv6Prefix: ipv6Prefix}
	if ipv6Prefix <= 0 || ipv6Prefix > 128 {
		r.ipv6Prefix = 128
	}
	for _, s := range trustedCIDRs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			r.trusted = append(r.trusted, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// Client is who a request comes from.
type Client struct {
	// Addr is the client's address, e.g. 203.0.113.7.
	Addr string
	// Key identifies the client for rate limiting: the address, or for
	// IPv6 its prefix (2001:db8:1:2::/64).
	Key string
}

// Client returns the client of r: the peer, or behind trusted proxies the
// right-most untrusted X-Forwarded-For entry. If every hop is trusted the
// left-most one is the client; a malformed entry stops the walk at the
// last good address, so garbage cannot pick an identity.
func (res *Resolver) Client(r *http.Request) Client {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return Client{Addr: host, Key: host}
	}
	peer = peer.Unmap()
	if len(res.trusted) == 0 || !res.isTrusted(peer) {
		return res.client(peer, host)
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			a, ok := parseHop(hop)
			if !ok {
				return res.client(client, "")
			}
			client = a
			if !res.isTrusted(a) {
				return res.client(a, "")
			}
		}
	}
	return res.client(client, "")
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client renders a; raw is the peer's own text, reused to avoid formatting
// an IPv4 address on every request.
func (res *Resolver) client(a netip.Addr, raw string) Client {
	addr := raw
	if raw == "" || !a.Is4() || strings.Contains(raw, ":") {
		addr = a.String()
	}
	c := Client{Addr: addr, Key: addr}
	if a.Is6() && res.ipv6Prefix < 128 {
		if p, err := a.WithZone("").Prefix(res.ipv6Prefix); err == nil {
			c.Key = p.String()
		}
	}
	return c
}

package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP finds the client's address: the peer's, unless the peer is a
// trusted proxy (the gateway), in which case X-Forwarded-For is walked
// right to left and the first address that is not a trusted proxy wins.
// A client talking to the service directly cannot spoof its address with
// the header, since its own address is not trusted.
type ClientIP struct {
	trusted []netip.Prefix
}

// NewClientIP trusts the given proxy networks.
func NewClientIP(trusted []netip.Prefix) *ClientIP { return &ClientIP{trusted: trusted} }

func (c *ClientIP) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Of returns the client address of r.
func (c *ClientIP) Of(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !c.isTrusted(peer) {
		return peer.String()
	}
	hops := forwarded(r.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// Garbage where an address should be: stop trusting the chain
			// and blame the last proxy we do trust.
			return peer.String()
		}
		a = a.Unmap()
		if !c.isTrusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func forwarded(values []string) []string {
	var hops []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				hops = append(hops, part)
			}
		}
	}
	return hops
}

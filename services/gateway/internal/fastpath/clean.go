package fastpath

import "bytes"

// cleanPath reports whether a raw request path may be routed: it starts
// with '/', has no empty segment (a doubled slash), no dot segment (also
// percent-encoded) and no encoded slash. The net/http path's cleanPaths
// answers the same paths with 404: routing them would let
// /api/admin/../../metrics reach a service's private endpoints. A
// trailing slash is allowed (no route has one, so it is a 404 anyway).
func cleanPath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	if bytes.IndexByte(p, '.') < 0 && bytes.IndexByte(p, '%') < 0 {
		// No dot segment or encoding can be there: most paths.
		return !bytes.Contains(p, []byte("//"))
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[start:i]
		if len(seg) == 0 && i < len(p) {
			return false // "//"
		}
		if isDots(seg) {
			return false
		}
		start = i + 1
	}
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' && p[i+1] == '2' && (p[i+2] == 'f' || p[i+2] == 'F') {
			return false
		}
	}
	return true
}

// isDots reports whether seg is "." or "..", percent-encoded or not.
func isDots(seg []byte) bool {
	dots := 0
	for i := 0; i < len(seg); {
		switch {
		case seg[i] == '.':
			i++
		case seg[i] == '%' && i+2 < len(seg) && seg[i+1] == '2' && (seg[i+2] == 'e' || seg[i+2] == 'E'):
			i += 3
		default:
			return false
		}
		dots++
	}
	return dots == 1 || dots == 2
}

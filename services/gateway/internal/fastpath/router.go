package fastpath

import (
	"strings"

	"github.com/acube/platform/services/gateway/internal/route"
)

// allowOrder is the order a 405's Allow header lists methods in, as
// web.MethodNotAllowedHandler does.
var allowOrder = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// node is one path segment of the route tree: chi's matching without
// regular expressions or allocation. A literal segment beats a {param}
// one, and a {param} matches one non-empty segment, as in chi.
type node struct {
	static  map[string]*node
	param   *node
	methods map[string]*entry
}

// router finds a route's entry by method and raw path.
type router struct {
	root node
	// literal holds the routes without a {param}, by "METHOD /path":
	// one lookup instead of one a segment. The tree would find the same
	// entry (a literal segment beats a {param}).
	literal map[string]*entry
}

// maxLiteralKey bounds the "METHOD /path" keys looked up in literal: a
// longer request is found in the tree.
const maxLiteralKey = 128

func (r *router) add(rt route.Route, e *entry) {
	if !strings.Contains(rt.Pattern, "{") {
		if r.literal == nil {
			r.literal = map[string]*entry{}
		}
		r.literal[rt.Method+" "+rt.Pattern] = e
	}
	n := &r.root
	for seg := range strings.SplitSeq(strings.TrimPrefix(rt.Pattern, "/"), "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
			continue
		}
		if n.static == nil {
			n.static = map[string]*node{}
		}
		c := n.static[seg]
		if c == nil {
			c = &node{}
			n.static[seg] = c
		}
		n = c
	}
	if n.methods == nil {
		n.methods = map[string]*entry{}
	}
	n.methods[rt.Method] = e
}

// find returns the entry of method at path (raw, starting with '/'),
// or nil. Like chi it backtracks: a literal segment whose subtree has no
// route for method gives way to a {param} one (GET /api/sessions/book is
// GET /api/sessions/{id}).
func (r *router) find(method, path []byte) *entry {
	if len(path) == 0 || path[0] != '/' {
		return nil
	}
	if len(method)+1+len(path) <= maxLiteralKey {
		var key [maxLiteralKey]byte
		n := copy(key[:], method)
		key[n] = ' '
		n += 1 + copy(key[n+1:], path)
		if e := r.literal[string(key[:n])]; e != nil {
			return e
		}
	}
	return r.root.find(method, path[1:])
}

// allowed lists the methods path has routes for, in allowOrder, joined
// for an Allow header; "" when it has none (a 404).
func (r *router) allowed(path []byte) string {
	var b strings.Builder
	for _, m := range allowOrder {
		if r.find([]byte(m), path) != nil {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m)
		}
	}
	return b.String()
}

func (n *node) find(method, path []byte) *entry {
	seg, rest, more := cut(path)
	if c := n.static[string(seg)]; c != nil {
		if !more {
			if e := c.methods[string(method)]; e != nil {
				return e
			}
		} else if e := c.find(method, rest); e != nil {
			return e
		}
	}
	if n.param != nil && len(seg) > 0 {
		if !more {
			return n.param.methods[string(method)]
		}
		return n.param.find(method, rest)
	}
	return nil
}

// cut splits path at its first '/'.
func cut(path []byte) (seg, rest []byte, more bool) {
	for i, c := range path {
		if c == '/' {
			return path[:i], path[i+1:], true
		}
	}
	return path, nil, false
}

package fastpath

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/limitreply"
)

// The fields the gateway adds to every proxied request and to every
// answer are written as preformatted lines (the AddLines of fasthttp's
// headers, third_party/fasthttp/README.md), not set one by one: a set
// field costs a copy and a scan of its key and value and a scan of the
// message's other fields, about 500 instructions, and the gateway adds
// up to fourteen to a request and its answer (docs/benchmarks-gateway.md,
// "Field lines, leases of 65 535, and the Host").
//
// Lines go out beside the message's fields and do not replace them, so
// a message's own field of a name the gateway writes is deleted first:
// X-Request-Id and X-Forwarded-For (fieldRequestID, fieldForwardedFor),
// and ownRequestNames and ownAnswerNames (fieldOwnRequest,
// fieldOwnAnswer; delNames).

// ownRequestNames are the other fields the gateway writes on a proxied
// request: the client's address and the forwarded host and scheme.
var ownRequestNames = [...]string{keyClientIP, keyForwardedHost, keyForwardedProto}

// ownAnswerNames are the other fields the gateway writes on an answer:
// nosniff and the rate-limit fields.
var ownAnswerNames = [...]string{keyNoSniff,
	limitreply.HeaderLimit, limitreply.HeaderRemaining, limitreply.HeaderReset, limitreply.HeaderPolicy, limitreply.HeaderRateLimit}

// ownRequestLengths and ownAnswerLengths have bit n set when a name of
// their set is n bytes long (inNames, TestNameLengths).
const (
	ownRequestLengths = 1<<len(keyClientIP) | 1<<len(keyForwardedHost) | 1<<len(keyForwardedProto)
	ownAnswerLengths  = 1<<len(keyNoSniff) | 1<<len(limitreply.HeaderLimit) | 1<<len(limitreply.HeaderRemaining) |
		1<<len(limitreply.HeaderReset) | 1<<len(limitreply.HeaderPolicy) | 1<<len(limitreply.HeaderRateLimit)
)

// delNames deletes each of names from a message.
func delNames(h interface{ Del(string) }, names []string) {
	for _, k := range names {
		h.Del(k)
	}
}

// The security lines of every answer (web.SecurityHeaders' set).
const (
	lineNoSniff        = keyNoSniff + ": nosniff\r\n"
	lineNoStore        = keyCacheControl + ": " + web.NoStore + "\r\n"
	lineAPIPolicy      = keyCSP + ": " + web.APIContentSecurityPolicy + "\r\n"
	lineForwardedProto = keyForwardedProto + ": http\r\n"
)

// linesSize is the room on the stack for a message's lines: more takes
// an allocation (a long X-Forwarded-For chain from a trusted proxy).
const linesSize = 1024

// appendLine appends the field line "name: value" CRLF. value must hold
// no CR or LF: it is the gateway's own (appendClientLine takes the
// client's).
func appendLine[V string | []byte](dst []byte, name string, value V) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// appendClientLine is appendLine for a value the client sent: a CR or LF
// in it becomes a space (RFC 9110 §5.5), as fasthttp's setters do.
func appendClientLine[V string | []byte](dst []byte, name string, value V) []byte {
	from := len(dst) + len(name) + len(": ")
	dst = appendLine(dst, name, value)
	v := dst[from : len(dst)-len("\r\n")]
	if bytes.IndexByte(v, '\r') < 0 && bytes.IndexByte(v, '\n') < 0 {
		return dst // the usual case: fasthttp's parser refuses both
	}
	for i, c := range v {
		if c == '\r' || c == '\n' {
			v[i] = ' '
		}
	}
	return dst
}

// forwardLines adds the fields the upstream request carries from the
// gateway: the request id, the client's address, the X-Forwarded-* chain
// (forwardedFor: the peer, after a trusted proxy's chain) and the host
// the client asked for. h has none of them (proxy deletes them first).
func forwardLines(h *fasthttp.RequestHeader, rq *request, clientAddr, forwardedFor string) {
	var buf [linesSize]byte
	b := appendLine(buf[:0], keyRequestID, rq.ID())
	b = appendLine(b, keyClientIP, clientAddr)
	b = appendClientLine(b, keyForwardedFor, forwardedFor)
	b = appendClientLine(b, keyForwardedHost, h.Host())
	b = append(b, lineForwardedProto...)
	h.AddLines(b)
}

// answerLines adds the fields every answer carries from the gateway: the
// request id, rq's rate-limit fields, if any, and the security fields:
// nosniff always, the no-store and CSP defaults where the answer chose
// none. may says which of Cache-Control and Content-Security-Policy the
// answer may have (fieldCacheControl, fieldCSP): only those are looked
// for. h has none of the others (deleted first, on a proxied answer).
func answerLines(h *fasthttp.ResponseHeader, rq *request, may fields) {
	var buf [linesSize]byte
	b := appendLine(buf[:0], keyRequestID, rq.ID())
	b = appendLimitLines(b, rq)
	b = append(b, lineNoSniff...)
	if may&fieldCacheControl == 0 || len(h.PeekCanonical([]byte(keyCacheControl))) == 0 {
		b = append(b, lineNoStore...)
	}
	if may&fieldCSP == 0 || len(h.PeekCanonical([]byte(keyCSP))) == 0 {
		b = append(b, lineAPIPolicy...)
	}
	h.AddLines(b)
}

// appendLimitLines appends the rate-limit fields of rq's decision, if
// any, in the seed's spelling (X-RateLimit-*: not normalised). The
// windows' reset times count from the decision, made as the request
// arrived (rq.start): not from the answer, which a slow upstream delays.
func appendLimitLines(dst []byte, rq *request) []byte {
	if !rq.limited {
		return dst
	}
	return limitreply.AppendLines(dst, &rq.limits, rq.start)
}

package fastpath

import (
	"bytes"
	"iter"
)

// Header field names in fasthttp's canonical form (textproto's: each word
// capitalised), for its ...Canonical methods: the plain Peek, Set and Del
// copy and normalise the key on every call, which was the largest single
// cost of a proxied request in user space (docs/benchmarks-gateway.md,
// "Header keys"). TestCanonicalKeys checks each.
const (
	keyRequestID       = "X-Request-Id" // web.HeaderRequestID
	keyClientIP        = "X-Real-Ip"    // proxy.HeaderClientIP
	keyForwardedFor    = "X-Forwarded-For"
	keyForwardedHost   = "X-Forwarded-Host"
	keyForwardedProto  = "X-Forwarded-Proto"
	keyDeclared        = headerDeclared
	keyConnection      = "Connection"
	keyTrailer         = "Trailer"
	keyUpgrade         = "Upgrade"
	keyContentEncoding = "Content-Encoding"
	keyNoSniff         = "X-Content-Type-Options"
	keyCacheControl    = "Cache-Control"
	keyCSP             = "Content-Security-Policy"
)

// fields is a set of header fields a message has, found in one walk over
// its field names: those the framing checks and the proxy look for. Most
// messages have none of them, and a Del of a field that is not there
// still costs a key normalisation and a scan of every field.
type fields uint16

const (
	// Named exactly so, the colon right after the name: the framing
	// checks (checkHeaders) read the raw lines as RFC 9112 does.
	fieldContentLength fields = 1 << iota
	fieldTransferEncoding
	// Named so once spaces are trimmed, in any case: fields the proxy
	// deletes.
	fieldRequestID
	fieldExpect
	fieldForwardedFor
	fieldPlainHop // any of plainHop
	fieldConnection
	fieldTrailer
	// Named so once spaces are trimmed, in any case: fields the proxy
	// looks at. A message without the bit does not have the field; one
	// with it may (peek to be sure).
	fieldUpgrade
	fieldCacheControl
	fieldCSP
	// Named so once spaces are trimmed, in any case: any of
	// ownRequestNames, any of ownAnswerNames, the other fields the
	// gateway writes itself (lines.go).
	fieldOwnRequest
	fieldOwnAnswer

	// mayTrail are the fields deleted from a message whose body is
	// chunked: its trailer section, which the walk does not see, may
	// hold them.
	mayTrail = fieldRequestID | fieldExpect | fieldForwardedFor | fieldPlainHop | fieldConnection | fieldTrailer |
		fieldOwnRequest | fieldOwnAnswer
)

// fieldsOf returns which of the fields names has; the framing ones
// (fieldContentLength, fieldTransferEncoding) only if framing is set: a
// request's, whose raw lines checkHeaders reads. An answer's framing is
// fasthttp's to read and to rebuild.
func fieldsOf(names iter.Seq[[]byte], framing bool) fields {
	var f fields
	for name := range names {
		if framing {
			switch {
			case len(name) == len("content-length") && bytes.EqualFold(name, []byte("content-length")):
				f |= fieldContentLength
			case len(name) == len("transfer-encoding") && bytes.EqualFold(name, []byte("transfer-encoding")):
				f |= fieldTransferEncoding
			}
		}
		name = bytes.TrimSpace(name)
		switch len(name) {
		case len(keyRequestID):
			if bytes.EqualFold(name, []byte(keyRequestID)) {
				f |= fieldRequestID
			}
		case len("expect"):
			if bytes.EqualFold(name, []byte("expect")) {
				f |= fieldExpect
			}
		case len(keyForwardedFor):
			if bytes.EqualFold(name, []byte(keyForwardedFor)) {
				f |= fieldForwardedFor
			}
		case len(keyConnection):
			if bytes.EqualFold(name, []byte(keyConnection)) {
				f |= fieldConnection
			}
		case len(keyTrailer): // and of keyUpgrade
			switch {
			case bytes.EqualFold(name, []byte(keyTrailer)):
				f |= fieldTrailer
			case bytes.EqualFold(name, []byte(keyUpgrade)):
				f |= fieldUpgrade
			}
		case len(keyCacheControl):
			if bytes.EqualFold(name, []byte(keyCacheControl)) {
				f |= fieldCacheControl
			}
		case len(keyCSP):
			if bytes.EqualFold(name, []byte(keyCSP)) {
				f |= fieldCSP
			}
		}
		if isPlainHop(name) {
			f |= fieldPlainHop
		}
		if inNames(name, ownRequestLengths, ownRequestNames[:]) {
			f |= fieldOwnRequest
		}
		if inNames(name, ownAnswerLengths, ownAnswerNames[:]) {
			f |= fieldOwnAnswer
		}
	}
	return f
}

// messageFields returns the fields of a message with field names names
// (the framing ones if framing: fieldsOf), and mayTrail too when its body
// is chunked (contentLength -1, as fasthttp's ContentLength reports it).
func messageFields(names iter.Seq[[]byte], contentLength int, framing bool) fields {
	f := fieldsOf(names, framing)
	if contentLength == -1 {
		f |= mayTrail
	}
	return f
}

// requestFields returns the fields of a request's raw header lines (as
// received): messageFields.
func requestFields(raw []byte, contentLength int) fields {
	return messageFields(fieldNames(raw), contentLength, true)
}

// fieldNames yields the name of each "name: value" line of a raw header
// block as written, up to its first colon; lines without one are skipped.
func fieldNames(raw []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(raw) > 0 {
			line := raw
			if i := bytes.IndexByte(raw, '\n'); i >= 0 {
				line, raw = raw[:i], raw[i+1:]
			} else {
				raw = nil
			}
			if i := bytes.IndexByte(line, ':'); i > 0 && !yield(line[:i]) {
				return
			}
		}
	}
}

// keys yields the names of a parsed header's fields (All).
func keys(all iter.Seq2[[]byte, []byte]) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for k := range all {
			if !yield(k) {
				return
			}
		}
	}
}

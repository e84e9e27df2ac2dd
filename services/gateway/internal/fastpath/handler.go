package fastpath

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/limitreply"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
)

// entry is one route, built once: its limiter key, upstream, body limit
// and pre-bound metrics.
type entry struct {
	pattern  string
	method   string
	key      string
	upstream *upstream
	maxBody  int64
	metrics  *web.RouteMetrics
	docs     bool // served by the gateway itself (openapi.Mount)
}

// idSource mints request ids: a random prefix per process and a counter,
// 128 bits in hex like web.NewRequestID, without a system call or an
// allocation per request. Ids need to be unique, not secret.
type idSource struct {
	prefix [16]byte // 8 random bytes, in hex
	n      atomic.Uint64
}

func newIDSource() *idSource {
	s := &idSource{}
	var b [8]byte
	_, _ = rand.Read(b[:])
	hex.Encode(s.prefix[:], b[:])
	return s
}

func (s *idSource) next(dst *[128]byte) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], s.n.Add(1))
	copy(dst[:16], s.prefix[:])
	hex.Encode(dst[16:32], b[:])
	return dst[:32]
}

// request is what handle keeps of one request while it runs.
type request struct {
	start time.Time
	idBuf [128]byte // the request id (web.ValidRequestID: at most 128 bytes)
	idLen int
	// limits is the limiter's decision whose headers the answer carries,
	// whoever writes it (the upstream, or the gateway's JSON error), when
	// limited is set (not for unlimited routes and shadow tiers).
	limits  ratelimit.Decision
	limited bool
	// fields are the request's fields the proxy looks for.
	fields fields
	// declared is set when the body is left unread: its declared length
	// is past the route's limit (headerReceived).
	declared bool
}

// ID is the request id.
func (rq *request) ID() []byte { return rq.idBuf[:rq.idLen] }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	var rq request
	rq.start = ctx.Time()
	h := &ctx.Request.Header
	rq.fields = requestFields(h.RawHeaders(), h.ContentLength())
	s.requestID(ctx, &rq)
	defer s.recoverPanic(ctx, &rq)
	if rq.declared = len(h.PeekCanonical([]byte(keyDeclared))) > 0; rq.declared {
		// The body was left unread (headerReceived): whatever the
		// answer, the connection cannot carry another request.
		ctx.SetConnectionClose()
	}
	if e := checkHeaders(h, rq.fields); e != nil {
		s.fail(ctx, &rq, nil, e)
		return
	}
	path := ctx.Request.URI().PathOriginal()
	var e *entry
	clean := cleanPath(path)
	if clean {
		e = s.routes.find(h.Method(), path)
	}
	if e == nil {
		allow := ""
		if clean {
			allow = s.routes.allowed(path)
		}
		if allow == "" {
			s.fail(ctx, &rq, nil, web.NotFound("no route for "+string(h.Method())+" "+string(ctx.Path())))
			return
		}
		ctx.Response.Header.Set("Allow", allow)
		s.fail(ctx, &rq, nil, &web.Error{Status: fasthttp.StatusMethodNotAllowed, Message: "Method not allowed",
			Detail: string(h.Method()) + " is not allowed on " + string(ctx.Path()) + "; use " + allow})
		return
	}
	if e.docs {
		s.docs(ctx)
		s.finish(ctx, &rq, e.metrics)
		return
	}
	s.proxy(ctx, &rq, e)
}

// requestID keeps a valid X-Request-ID or mints one, and takes the
// client's off the request: a proxied request carries it once, whatever
// the client sent (forwardLines), and so does every answer (answerLines).
func (s *Server) requestID(ctx *fasthttp.RequestCtx, rq *request) {
	h := &ctx.Request.Header
	sent := rq.fields&fieldRequestID != 0
	var id []byte
	if sent {
		id = h.PeekCanonical([]byte(keyRequestID))
	}
	if web.ValidRequestIDBytes(id) {
		rq.idLen = copy(rq.idBuf[:], id)
	} else {
		rq.idLen = len(s.ids.next(&rq.idBuf))
	}
	if sent {
		h.Del(keyRequestID) // every field of it: one goes on (forwardLines)
	}
}

// checkHeaders refuses what the net/http path's web.HeaderLimits
// refuses (431, 411, 415), and the framing fasthttp's parser tolerates
// but RFC 9112 does not, which a front proxy could read differently
// (request smuggling): obs-fold continuation lines, bare LF line ends,
// Content-Length together with Transfer-Encoding.
func checkHeaders(h *fasthttp.RequestHeader, f fields) *web.Error {
	raw := h.RawHeaders()
	if size := len(h.Method()) + len(h.RequestURI()) + len(" HTTP/1.1\r\n ") + len(raw); size > web.MaxHeaderBytes {
		return headersTooLarge("the request line and headers may take at most " + strconv.Itoa(web.MaxHeaderBytes) + " bytes, not " + strconv.Itoa(size))
	}
	if !plainLines(raw) {
		return badFraming("header lines must end with CRLF and may not be folded (RFC 9112 §2.2, §5.2)")
	}
	if h.ContentLength() == -1 && f&fieldContentLength != 0 {
		return badFraming("a request may not have both Content-Length and Transfer-Encoding (RFC 9112 §6.1)")
	}
	if h.ContentLength() != -1 && f&fieldTransferEncoding != 0 {
		// fasthttp reads "Transfer-Encoding: identity" as no body at all.
		return badFraming("the only transfer coding a request may use is chunked (RFC 9112 §6.1)")
	}
	if !h.IsHTTP11() && takesBody(h.Method()) && f&fieldContentLength == 0 {
		return (&web.Error{Status: fasthttp.StatusLengthRequired,
			Message: "Length required", Detail: "an HTTP/1.0 request body needs a Content-Length header"})
	}
	if h.ContentLength() != 0 && h.ContentLength() != -2 {
		if ce := h.PeekCanonical([]byte(keyContentEncoding)); len(ce) > 0 {
			for coding := range bytes.SplitSeq(ce, comma) {
				if c := bytes.TrimSpace(coding); len(c) > 0 && !bytes.EqualFold(c, identity) {
					return &web.Error{Status: fasthttp.StatusUnsupportedMediaType, Message: "Unsupported media type",
						Detail: "request bodies are not decoded: send them without Content-Encoding (got " + strconv.Quote(string(c)) + ")"}
				}
			}
		}
	}
	return nil
}

var (
	comma    = []byte(",")
	identity = []byte("identity")
)

// plainLines reports whether every LF of a raw header block ends a line
// with CRLF and none starts a folded one (SP or HTAB after it).
func plainLines(raw []byte) bool {
	for {
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			return true
		}
		if i == 0 || raw[i-1] != '\r' {
			return false
		}
		if raw = raw[i+1:]; len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
			return false
		}
	}
}

// headersTooLarge is the JSON 431, whether the handler measured the
// headers or fasthttp's read buffer overflowed first (parseError).
func headersTooLarge(detail string) *web.Error {
	return &web.Error{Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Message: "Request headers too large", Detail: detail}
}

func badFraming(detail string) *web.Error {
	return &web.Error{Status: fasthttp.StatusBadRequest, Message: "Bad request", Detail: detail}
}

// closes reports whether an error answer ends the connection: the rest
// of the request (its body, or what a front proxy took for one) cannot be
// trusted to end where it says, as on the net/http path.
func closes(status int) bool {
	switch status {
	case fasthttp.StatusBadRequest, fasthttp.StatusRequestTimeout, fasthttp.StatusLengthRequired,
		fasthttp.StatusRequestEntityTooLarge, fasthttp.StatusRequestHeaderFieldsTooLarge:
		return true
	}
	return false
}

func takesBody(method []byte) bool {
	switch string(method) {
	case "POST", "PUT", "PATCH":
		return true
	}
	return false
}

// client resolves the request's client as clientip does for net/http
// (Proxied when the peer is a trusted proxy). A peer that is not is the
// client of every request on its connection: resolved once per
// connection (peerConn).
func (s *Server) client(ctx *fasthttp.RequestCtx) clientip.Client {
	pc, ok := ctx.Conn().(*peerConn)
	if !ok {
		return s.resolveClient(ctx)
	}
	switch {
	case !pc.resolved:
		pc.client = s.resolveClient(ctx)
		pc.resolved = true
	case pc.client.Proxied:
		return s.resolveClient(ctx) // each request names its own client
	}
	return pc.client
}

// peerConn is an accepted connection and, once its first request is
// resolved, its client. fasthttp serves a connection's requests one
// after the other, so no lock guards them.
type peerConn struct {
	net.Conn
	resolved bool
	client   clientip.Client // when resolved; the peer's own unless Proxied
}

// peerListener accepts peerConns.
type peerListener struct{ net.Listener }

func (l peerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &peerConn{Conn: c}, nil
}

// resolveClient is client without the connection's memory.
func (s *Server) resolveClient(ctx *fasthttp.RequestCtx) clientip.Client {
	var peer netip.Addr
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		peer = a.AddrPort().Addr().Unmap()
	}
	if !peer.IsValid() {
		addr := ctx.RemoteAddr().String()
		return clientip.Client{Addr: addr, Key: addr}
	}
	if !s.cfg.Clients.Trusts(peer) {
		return s.cfg.Clients.ClientFrom(peer, nil)
	}
	var xff []string
	for _, v := range ctx.Request.Header.PeekAll(keyForwardedFor) {
		xff = append(xff, string(v))
	}
	return s.cfg.Clients.ClientFrom(peer, xff)
}

// limit asks the limiter, keeps the decision for the answer's rate-limit
// headers (rq.limits) and reports whether the request may go on (false:
// refused and answered).
func (s *Server) limit(ctx *fasthttp.RequestCtx, rq *request, e *entry, client clientip.Client) bool {
	if s.cfg.Limiter == nil {
		return true
	}
	rq.limits = s.cfg.Limiter.Allow(e.key, client.Key)
	d := &rq.limits
	rq.limited = d.Limited() && !d.Tier.Shadow
	if d.Refused() {
		rf := limitreply.Refuse(context.Background(), s.cfg.Log, d, e.key, client.Key, string(rq.ID()))
		ctx.Response.Header.Set("Retry-After", strconv.FormatInt(rf.RetryAfter, 10))
		s.fail(ctx, rq, e.metrics, rf.Body)
		return false
	}
	if limitreply.Shadowed(d) { // checked first: string(rq.ID()) allocates
		limitreply.Shadow(context.Background(), s.cfg.Log, d, e.key, client.Key, string(rq.ID()))
	}
	return true
}

// isUpgrade reports whether the request, with fields f, asks to switch
// protocols (Upgrade with a Connection: upgrade token), as
// proxy.IsUpgrade.
func isUpgrade(h *fasthttp.RequestHeader, f fields) bool {
	if f&fieldUpgrade == 0 || f&fieldConnection == 0 || len(h.PeekCanonical([]byte(keyUpgrade))) == 0 {
		return false
	}
	found := false
	eachToken(h.PeekCanonical([]byte(keyConnection)), func(tok []byte) {
		if bytes.EqualFold(tok, []byte("upgrade")) {
			found = true
		}
	})
	return found
}

// eachToken calls f with each comma-separated token of v, trimmed.
func eachToken(v []byte, f func(tok []byte)) {
	for len(v) > 0 {
		tok := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if tok = bytes.TrimSpace(tok); len(tok) > 0 {
			f(tok)
		}
	}
}

// fail answers with the JSON error e and records the request under
// rm (nil: "unmatched").
func (s *Server) fail(ctx *fasthttp.RequestCtx, rq *request, rm *web.RouteMetrics, e *web.Error) {
	if closes(e.Status) {
		ctx.SetConnectionClose()
	}
	if e.Status == fasthttp.StatusUnsupportedMediaType {
		ctx.Response.Header.Set("Accept-Encoding", "identity")
	}
	writeJSON(ctx, e)
	s.finish(ctx, rq, rm)
}

// finish adds the gateway's fields (answerLines) and records a request
// answered by the gateway itself.
func (s *Server) finish(ctx *fasthttp.RequestCtx, rq *request, rm *web.RouteMetrics) {
	answerLines(&ctx.Response.Header, rq, fieldCacheControl|fieldCSP) // the docs set their own
	s.record(ctx, rq, rm, ctx.Response.StatusCode())
}

// record counts and logs one request, as web.HTTPMetrics.Middleware.
func (s *Server) record(ctx *fasthttp.RequestCtx, rq *request, rm *web.RouteMetrics, status int) {
	route := "unmatched"
	if rm == nil {
		rm = s.unmatched[string(ctx.Method())]
		if rm == nil {
			rm = s.cfg.Metrics.Route(route, string(ctx.Method()))
		}
	} else {
		route = rm.Name()
	}
	d := time.Since(rq.start)
	rm.Observe(status, d)
	if s.cfg.Log.Enabled(context.Background(), slog.LevelInfo) {
		web.LogRequest(context.Background(), s.cfg.Log, slog.LevelInfo, string(ctx.Method()), route, status, d, string(rq.ID()))
	}
}

// writeJSON renders e as the body of the response.
func writeJSON(ctx *fasthttp.RequestCtx, e *web.Error) {
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(e.Status)
	body, _ := json.Marshal(e)
	ctx.Response.SetBodyRaw(append(body, '\n')) // as json.Encoder, which web.WriteJSON uses
}

// recoverPanic turns a panic into a JSON 500, as web.HTTPMetrics'
// middleware does: fasthttp would let it take the process down.
func (s *Server) recoverPanic(ctx *fasthttp.RequestCtx, rq *request) {
	p := recover()
	if p == nil {
		return
	}
	s.cfg.Log.Error("handler panicked", "panic", p, "request_id", string(rq.ID()))
	// Nothing of the answer begun stays, the gateway's lines neither
	// (fail adds them again), but a connection that was to close does.
	closing := ctx.Response.ConnectionClose()
	ctx.Response.Reset()
	if closing {
		ctx.SetConnectionClose()
	}
	s.fail(ctx, rq, nil, &web.Error{Status: fasthttp.StatusInternalServerError, Message: "Internal server error"})
}

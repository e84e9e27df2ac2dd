package fastpath

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/gateway/internal/proxy"
)

// The hop-by-hop fields (RFC 9110 §7.6.1, and the non-standard ones
// net/http's ReverseProxy drops too) are never forwarded in either
// direction: Connection, Trailer and plainHop. Transfer-Encoding and
// Content-Length are framing, rebuilt by fasthttp for each hop. Each is
// deleted only when the message has it: most have none, and each Del
// costs a key normalisation and a scan of every field.
var plainHop = [...]string{"Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Upgrade"}

// proxy limits the request, sends it to e's upstream and streams the
// answer back.
func (s *Server) proxy(ctx *fasthttp.RequestCtx, rq *request, e *entry) {
	h := &ctx.Request.Header
	client := s.client(ctx)
	if !s.limit(ctx, rq, e, client) {
		return
	}
	if isUpgrade(h, rq.fields) {
		s.fail(ctx, rq, e.metrics, &web.Error{Status: fasthttp.StatusBadRequest, Message: "Bad request",
			Detail: "protocol upgrades (WebSocket, h2c) are not supported"})
		return
	}
	if cl := h.ContentLength(); cl > 0 && int64(cl) > e.maxBody || rq.declared {
		s.tooLarge(ctx, rq, e)
		return
	}

	// The request goes on as it came, minus what is for this hop only.
	peer := client.Addr // the peer itself unless it is a trusted proxy
	if client.Proxied {
		peer = ctx.RemoteIP().String()
	}
	stripHop(h, rq.fields)
	if rq.fields&fieldExpect != 0 {
		h.Del("Expect") // answered here (100 Continue) already
	}
	if rq.fields&fieldOwnRequest != 0 {
		delNames(h, ownRequestNames[:])
	}
	if rq.fields&fieldForwardedFor != 0 {
		if client.Proxied {
			// Behind a trusted proxy the chain it reports is kept, ours added.
			if prior := h.PeekAll(keyForwardedFor); len(prior) > 0 {
				peer = string(bytes.Join(prior, []byte(", "))) + ", " + peer
			}
		}
		h.Del(keyForwardedFor)
	}
	forwardLines(h, rq, client.Addr, peer)
	h.SetHost(e.upstream.host)
	// The request's URI was parsed from the client's request line and Host
	// (handle); without this, Request.Write would put the client's host
	// back in the Host field.
	ctx.Request.UseHostHeader = true

	var body *guardedBody
	if ctx.Request.IsBodyStream() {
		body = acquireBody(ctx, e.maxBody, s.cfg.BodyReadTimeout)
		defer releaseBody(body)
		ctx.Request.SetBodyStream(body, h.ContentLength())
	}

	// The answer is read into the client's response: its status, its
	// headers and, when small, its body (transport).
	err := e.upstream.client.Do(&ctx.Request, &ctx.Response)
	if err != nil {
		ctx.Response.Reset() // whatever of an answer arrived is not passed on
		s.upstreamFailed(ctx, rq, e, body, err)
		return
	}

	// The answer: the service's headers minus hop-by-hop ones and its
	// echo of the request id, then ours.
	rh := &ctx.Response.Header
	// An answer with a body and no Content-Type gets fasthttp's
	// text/plain default, as it did when answers were copied into the
	// client's response (and as net/http's sniffing gives one on the
	// other path): the server's NoDefaultContentType would leave none.
	rh.SetNoDefaultContentType(false)
	f := messageFields(keys(rh.All()), rh.ContentLength(), false)
	stripHop(rh, f)
	if f&fieldRequestID != 0 {
		rh.Del(keyRequestID)
	}
	if f&fieldOwnAnswer != 0 {
		delNames(rh, ownAnswerNames[:])
	}
	if f&(fieldConnection|fieldTrailer) != 0 {
		f |= fieldCacheControl | fieldCSP // either may have been, or moved to the trailer
	}
	answerLines(rh, rq, f)
	stream := takeStream(&ctx.Response)
	if stream == nil {
		s.record(ctx, rq, e.metrics, rh.StatusCode())
		return
	}
	// Recorded when fasthttp has written the body (or failed to).
	ctx.Response.SetBodyStream(acquireAnswer(s, rq, e, stream), stream.Header.ContentLength())
}

// stripHop removes the hop-by-hop fields and those its Connection field
// names from a request or response header with fields f. fasthttp keeps
// "Connection: close" (or an HTTP/1.0 message's want of it) as a flag of
// its own, which the Del of Connection clears too.
func stripHop(h interface {
	PeekCanonical([]byte) []byte
	Del(string)
	DelBytes([]byte)
	ConnectionClose() bool
}, f fields) {
	if f&fieldConnection != 0 {
		eachToken(h.PeekCanonical([]byte(keyConnection)), func(tok []byte) {
			if !bytes.EqualFold(tok, []byte("close")) && !bytes.EqualFold(tok, []byte("keep-alive")) {
				h.DelBytes(tok)
			}
		})
	}
	if f&fieldConnection != 0 || h.ConnectionClose() {
		h.Del(keyConnection)
	}
	if f&fieldTrailer != 0 {
		h.Del(keyTrailer)
	}
	if f&fieldPlainHop != 0 {
		for _, k := range plainHop {
			h.Del(k)
		}
	}
}

// plainHopLengths has bit n set when a name of plainHop is n bytes long
// (TestPlainHopLengths): most names are not looked for further.
const plainHopLengths = 1<<len("Te") | 1<<len("Upgrade") | 1<<len("Keep-Alive") |
	1<<len("Proxy-Connection") | 1<<len("Proxy-Authenticate") | 1<<len("Proxy-Authorization")

func isPlainHop(name []byte) bool { return inNames(name, plainHopLengths, plainHop[:]) }

// inNames reports whether name is one of names, in any case; lengths has
// bit n set when one of them is n bytes long, so that most names are not
// looked for further.
func inNames(name []byte, lengths uint64, names []string) bool {
	if len(name) >= 64 || lengths&(uint64(1)<<len(name)) == 0 {
		return false
	}
	for _, k := range names {
		if len(name) == len(k) && bytes.EqualFold(name, []byte(k)) {
			return true
		}
	}
	return false
}

// tooLarge answers 413 and closes the connection: the body is not read.
func (s *Server) tooLarge(ctx *fasthttp.RequestCtx, rq *request, e *entry) {
	s.fail(ctx, rq, e.metrics, &web.Error{Status: fasthttp.StatusRequestEntityTooLarge,
		Message: "Request body too large", Detail: "the body may be at most " + strconv.FormatInt(e.maxBody, 10) + " bytes"})
}

// upstreamFailed answers a request the upstream did not answer, as the
// net/http proxy's error handler: the client's body at fault (413, 408,
// 400), the upstream not reachable (503), too slow (504) or broken (502).
func (s *Server) upstreamFailed(ctx *fasthttp.RequestCtx, rq *request, e *entry, body *guardedBody, err error) {
	name := e.upstream.name
	var (
		kind string
		we   *web.Error
	)
	switch {
	case body != nil && body.fault == faultTooLarge:
		s.errors.WithLabelValues(name, "too_large").Inc()
		s.tooLarge(ctx, rq, e)
		return
	case body != nil && body.fault == faultStalled:
		s.errors.WithLabelValues(name, "body_stalled").Inc()
		s.cfg.Log.Info("request body stalled", "upstream", name, "method", string(ctx.Method()),
			"path", string(ctx.Path()), "request_id", string(rq.ID()))
		s.fail(ctx, rq, e.metrics, web.RequestTimeout())
		return
	case body != nil && body.fault == faultBroken:
		s.errors.WithLabelValues(name, "bad_request").Inc()
		s.fail(ctx, rq, e.metrics, &web.Error{Status: fasthttp.StatusBadRequest, Message: "Bad request",
			Detail: "the request body could not be read: its chunked encoding is malformed or it ended early"})
		return
	case isDialError(err):
		kind = "unavailable"
		ctx.Response.Header.Set("Retry-After", "1")
		we = &web.Error{Status: fasthttp.StatusServiceUnavailable, Message: "Service unavailable",
			Detail: "the " + name + " service is not reachable; try again shortly"}
	case isTimeout(err):
		kind = "timeout"
		we = &web.Error{Status: fasthttp.StatusGatewayTimeout, Message: "Gateway timeout",
			Detail: "the " + name + " service did not answer in time"}
	default:
		kind = "bad_gateway"
		we = &web.Error{Status: fasthttp.StatusBadGateway, Message: "Bad gateway",
			Detail: "the " + name + " service failed to answer"}
	}
	s.errors.WithLabelValues(name, kind).Inc()
	s.cfg.Log.Warn("upstream failed", "upstream", name, "kind", kind, "method", string(ctx.Method()),
		"path", string(ctx.Path()), "request_id", string(rq.ID()), "error", err.Error())
	s.fail(ctx, rq, e.metrics, we)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns) ||
		errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, fasthttp.ErrTimeout) || errors.As(err, &ne) && ne.Timeout()
}

// The ways a client's body can fail the upstream request.
const (
	faultNone = iota
	faultTooLarge
	faultStalled
	faultBroken // malformed chunks, or the client left mid-body
)

// guardedBody is the client's streamed request body on its way to the
// upstream: bounded by the route's limit, and each read bounded by
// BodyReadTimeout (the connection's read deadline, so a read already
// waiting is interrupted), never past the request's web.ReadTimeout. It
// remembers why it failed, for the answer.
type guardedBody struct {
	ctx   *fasthttp.RequestCtx
	r     io.Reader
	limit int64
	read  int64
	idle  time.Duration
	end   time.Time
	fault int
}

var bodyPool = sync.Pool{New: func() any { return new(guardedBody) }}

func acquireBody(ctx *fasthttp.RequestCtx, limit int64, idle time.Duration) *guardedBody {
	b := bodyPool.Get().(*guardedBody)
	*b = guardedBody{ctx: ctx, r: ctx.RequestBodyStream(), limit: limit, idle: idle, end: ctx.Time().Add(web.ReadTimeout)}
	return b
}

func releaseBody(b *guardedBody) {
	*b = guardedBody{}
	bodyPool.Put(b)
}

func (b *guardedBody) Read(p []byte) (int, error) {
	if b.fault != faultNone {
		return 0, io.ErrUnexpectedEOF
	}
	d := time.Now().Add(b.idle)
	if d.After(b.end) {
		d = b.end
	}
	_ = b.ctx.SetReadDeadline(d)
	n, err := b.r.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		b.fault = faultTooLarge
		return n, errBodyTooLarge
	}
	if err != nil && err != io.EOF {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, fasthttp.ErrTimeout) {
			b.fault = faultStalled
		} else {
			b.fault = faultBroken
		}
	}
	return n, err
}

var errBodyTooLarge = errors.New("request body too large")

// answer is the upstream's streamed body on its way to the client. When
// fasthttp has written it (or failed to) it closes it: the upstream
// connection goes back to the pool or is dropped, and the request is
// recorded, as 499 when the client went away before the end.
type answer struct {
	s     *Server
	rq    request
	e     *entry
	resp  *fasthttp.Response
	body  io.Reader
	state int  // status to record
	eof   bool // the body was read to its end
}

var answerPool = sync.Pool{New: func() any { return new(answer) }}

func acquireAnswer(s *Server, rq *request, e *entry, resp *fasthttp.Response) *answer {
	a := answerPool.Get().(*answer)
	*a = answer{s: s, rq: *rq, e: e, resp: resp, body: resp.BodyStream(), state: resp.StatusCode()}
	return a
}

func (a *answer) Read(p []byte) (int, error) {
	n, err := a.body.Read(p)
	if err == io.EOF {
		a.eof = true
	}
	return n, err
}

// CloseWithError is called by fasthttp once the body is written; err is
// the write's failure, nil when the client got it all.
func (a *answer) CloseWithError(err error) error {
	status := a.state
	if err != nil {
		status = proxy.StatusClientClosed
		a.s.errors.WithLabelValues(a.e.upstream.name, "client_closed").Inc()
	}
	closeStream(a.resp, err == nil && a.eof)
	fasthttp.ReleaseResponse(a.resp)
	d := time.Since(a.rq.start)
	a.e.metrics.Observe(status, d)
	if a.s.cfg.Log.Enabled(context.Background(), slog.LevelInfo) {
		web.LogRequest(context.Background(), a.s.cfg.Log, slog.LevelInfo, a.e.method, a.e.pattern, status, d, string(a.rq.ID()))
	}
	*a = answer{}
	answerPool.Put(a)
	return nil
}

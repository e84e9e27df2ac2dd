package fastpath

import (
	"bytes"
	"errors"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/acube/platform/libs/web"
)

// parseError answers a request fasthttp could not read, in JSON like
// every other error: headers past the read buffer 431, a body past
// MaxRequestBodySize 413, a request that stopped arriving 408, anything
// else malformed (bad framing, bad header bytes) 400. fasthttp closes the
// connection after it.
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	var rq request
	rq.start = ctx.Time()
	rq.idLen = len(s.ids.next(&rq.idBuf))
	var (
		small *fasthttp.ErrSmallBuffer
		ne    net.Error
		e     *web.Error
	)
	switch {
	case errors.As(err, &small):
		e = headersTooLarge("the request line and headers may take at most " + strconv.Itoa(web.MaxHeaderBytes) + " bytes")
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = &web.Error{Status: fasthttp.StatusRequestEntityTooLarge, Message: "Request body too large",
			Detail: "the request body is larger than any route accepts"}
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		e = web.RequestTimeout()
	default:
		e = &web.Error{Status: fasthttp.StatusBadRequest, Message: "Bad request",
			Detail: "the request is malformed: HTTP/1.1 framing or header syntax (RFC 9112)"}
	}
	s.fail(ctx, &rq, nil, e)
}

// expect decides an Expect: 100-continue before the body is sent: a
// declared length past the route's limit gets the JSON 413 at once
// (without 100, the client keeps its body); everything else goes on
// (fasthttp sends 100 Continue, and the handler drops the Expect field so
// the upstream does not wait to send one too).
func (s *Server) expect(ctx *fasthttp.RequestCtx) int {
	h := &ctx.Request.Header
	e := s.routes.find(h.Method(), ctx.Request.URI().PathOriginal())
	if e == nil || e.docs || h.ContentLength() <= 0 || int64(h.ContentLength()) <= e.maxBody {
		return fasthttp.StatusContinue
	}
	rq := request{start: ctx.Time(), fields: requestFields(h.RawHeaders(), h.ContentLength())}
	s.requestID(ctx, &rq)
	s.tooLarge(ctx, &rq, e)
	return fasthttp.StatusRequestEntityTooLarge
}

// headerDeclared marks a request whose declared Content-Length passed its
// route's limit (headerReceived): its length is set to 0 so fasthttp
// reads none of the body, and the handler answers 413 and closes. A
// client that sends the field itself only gets its own request refused.
const headerDeclared = "X-Gateway-Declared-Length"

// headerReceived runs once the headers are read, before fasthttp reads
// any of the body (it pre-reads up to 8 KiB): a declared length past the
// route's limit must get its 413 without the gateway waiting for a body
// the client may never send.
//
// It also gives a request with a body BodyReadTimeout to send what
// fasthttp pre-reads (up to 8 KiB) before the handler runs: a body that
// stalls there gets the JSON 408 (parseError) as one that stalls later
// does (guardedBody).
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	cl := h.ContentLength()
	if cl == 0 || cl == -2 {
		return fasthttp.RequestConfig{}
	}
	rc := fasthttp.RequestConfig{ReadTimeout: s.cfg.BodyReadTimeout}
	if cl < 0 || int64(cl) <= s.cfg.MaxBody || len(h.Peek("Expect")) > 0 {
		return rc
	}
	limit := s.maxBody
	if e := s.routes.find(h.Method(), pathOf(h.RequestURI())); e != nil {
		limit = e.maxBody
	}
	if int64(cl) > limit {
		h.Set(headerDeclared, strconv.Itoa(cl))
		h.SetContentLength(0)
	}
	return rc
}

// pathOf is the path of a request target (origin form).
func pathOf(uri []byte) []byte {
	if i := bytes.IndexAny(uri, "?#"); i >= 0 {
		return uri[:i]
	}
	return uri
}

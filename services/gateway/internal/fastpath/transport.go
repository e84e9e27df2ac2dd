package fastpath

import (
	"bufio"
	"errors"

	"github.com/valyala/fasthttp"
)

// maxBuffered is the largest answer body read whole before it is passed
// on; a larger one, or one of unknown length (chunked, or up to the
// close), streams through. nginx, by default, also holds up to 64 KiB of
// an answer in memory (proxy_buffers 8 8k).
const maxBuffered = 64 << 10

// transport is the upstreams' fasthttp.RoundTripper. It does what
// fasthttp's DefaultTransport does for a HostClient configured as
// newUpstream configures it (no timeouts of its own: upConn bounds the
// wait for the answer's headers; no MaxConnDuration), except that it
// chooses how to read the body once it has read the headers: into resp
// when its length is known and at most maxBuffered, else as a stream
// from a response of its own (takeStream), so that resp can be the
// client's response itself whatever the answer's size.
//
// Most answers are small. The DefaultTransport streams every body when
// HostClient.StreamResponseBody is set, which a 1M-row CSV export needs,
// and wraps each stream in four allocated objects. Read whole, a small
// answer costs none, its connection goes back to the pool before the
// gateway writes to the client, and the gateway answers with the body as
// any handler does (docs/benchmarks-gateway.md: 4 000 fewer instructions
// per proxied request, of 35 700).
type transport struct{}

func (transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (retry bool, err error) {
	cc, err := hc.AcquireConn(0, req.ConnectionClose())
	if err != nil {
		return false, err // not sent: HostClient decides about a retry
	}
	conn := cc.Conn()
	resp.ParseNetConn(conn)

	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		hc.CloseConn(cc)
		if isTimeout(err) {
			err = fasthttp.ErrTimeout
		}
		return true, err
	}

	if req.Header.IsHead() {
		resp.SkipBody = true
	}
	br := hc.AcquireReader(conn)
	stream, err := readAnswer(resp, br)
	if err != nil {
		hc.ReleaseReader(br)
		hc.CloseConn(cc)
		return !errors.Is(err, fasthttp.ErrBodyTooLarge), err
	}
	reuse := !req.ConnectionClose() && !resp.ConnectionClose()
	if !stream {
		hc.ReleaseReader(br)
		if reuse {
			hc.ReleaseConn(cc)
		} else {
			hc.CloseConn(cc)
		}
		return false, nil
	}
	// The body streams, from a response of its own (takeStream): the
	// connection is the stream's until closeStream. Only now may a read
	// wait past the header deadline.
	body := fasthttp.AcquireResponse()
	resp.Header.CopyTo(&body.Header) // the framing the stream reads by
	body.ParseNetConn(conn)
	body.StreamBody = true
	_ = body.ReadBody(br, 0) // sets the stream up: reads nothing, fails never
	uc := upConnOf(resp)
	uc.answered.Store(true)
	uc.stream = body
	uc.done = func(whole bool) {
		hc.ReleaseReader(br)
		if whole && reuse && !body.ConnectionClose() {
			hc.ReleaseConn(cc)
		} else {
			hc.CloseConn(cc) // the rest of the body would be read as the next answer
		}
	}
	return false, nil
}

// readAnswer reads an answer's status line and headers, past interim
// (1xx) answers, as Response.ReadLimitBody does, and then its body when
// its length is known and at most maxBuffered. It reports whether the
// body is left to stream.
func readAnswer(resp *fasthttp.Response, br *bufio.Reader) (stream bool, err error) {
	if err := resp.Header.Read(br); err != nil {
		return false, err
	}
	for n := 0; interim(resp.StatusCode()); n++ {
		if n == maxInterim {
			return false, errTooManyInterim
		}
		if err := resp.Header.Read(br); err != nil {
			return false, err
		}
	}
	if resp.SkipBody || bodiless(resp.StatusCode()) {
		return false, nil
	}
	n := resp.Header.ContentLength() // -1: chunked, -2: up to the close
	if n < 0 || n > maxBuffered {
		return true, nil
	}
	resp.StreamBody = false
	return false, resp.ReadBody(br, maxBuffered)
}

// maxInterim bounds the interim answers read before the final one, as
// fasthttp does.
const maxInterim = 100

var errTooManyInterim = errors.New("too many interim (1xx) answers from the upstream")

// interim reports an informational answer that a final one follows: not
// 101, which switches protocols (refused before the upstream sees it).
func interim(status int) bool {
	return status >= 100 && status < 200 && status != fasthttp.StatusSwitchingProtocols
}

// bodiless reports a status whose answer has no body (RFC 9110 §6.4.1).
func bodiless(status int) bool {
	return status < 200 || status == fasthttp.StatusNoContent || status == fasthttp.StatusNotModified
}

// takeStream returns the response whose body streams the answer just
// read into resp, or nil when resp has the whole answer.
func takeStream(resp *fasthttp.Response) *fasthttp.Response {
	uc := upConnOf(resp)
	body := uc.stream
	uc.stream = nil
	return body
}

// closeStream closes a streamed answer body (takeStream) and gives its
// connection back to the pool, if whole (the body was read to its end:
// the connection holds no more of it), or closes it.
func closeStream(body *fasthttp.Response, whole bool) {
	_ = body.CloseBodyStream()
	uc := upConnOf(body)
	done := uc.done
	uc.done = nil
	done(whole)
}

// upConnOf is the connection resp was read from. fasthttp gives a
// response the RemoteAddr of its connection and nothing else; connAddr
// carries the connection, through a TLS one too.
func upConnOf(resp *fasthttp.Response) *upConn {
	return resp.RemoteAddr().(*connAddr).conn
}

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
// chooses how to read the body once it has read the headers: whole when
// its length is known and at most maxBuffered, else as a stream.
//
// Most answers are small. The DefaultTransport streams every body when
// HostClient.StreamResponseBody is set, which a 1M-row CSV export needs,
// and wraps each stream in four allocated objects. Read whole, a small
// answer costs none, its connection goes back to the pool before the
// gateway writes to the client, and the gateway answers with the body as
// any handler does: 3 000 fewer instructions per proxied request (about
// 8 % of the gateway's user time; docs/benchmarks-gateway.md).
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
	if err := readAnswer(resp, br); err != nil {
		hc.ReleaseReader(br)
		hc.CloseConn(cc)
		return !errors.Is(err, fasthttp.ErrBodyTooLarge), err
	}
	reuse := !req.ConnectionClose() && !resp.ConnectionClose()
	if !resp.IsBodyStream() {
		hc.ReleaseReader(br)
		if reuse {
			hc.ReleaseConn(cc)
		} else {
			hc.CloseConn(cc)
		}
		return false, nil
	}
	// The body streams: the connection is the stream's until
	// closeStream. Only now may a read wait past the header deadline.
	uc := upConnOf(resp)
	uc.answered.Store(true)
	uc.done = func(whole bool) {
		hc.ReleaseReader(br)
		if whole && reuse && !resp.ConnectionClose() {
			hc.ReleaseConn(cc)
		} else {
			hc.CloseConn(cc) // the rest of the body would be read as the next answer
		}
	}
	return false, nil
}

// readAnswer reads an answer's status line and headers, past interim
// (1xx) answers, as Response.ReadLimitBody does, and then its body: read
// whole into resp when its length is known and at most maxBuffered, else
// left to stream (resp.BodyStream).
func readAnswer(resp *fasthttp.Response, br *bufio.Reader) error {
	if err := resp.Header.Read(br); err != nil {
		return err
	}
	for n := 0; interim(resp.StatusCode()); n++ {
		if n == maxInterim {
			return errTooManyInterim
		}
		if err := resp.Header.Read(br); err != nil {
			return err
		}
	}
	if resp.SkipBody || bodiless(resp.StatusCode()) {
		return nil
	}
	n := resp.Header.ContentLength() // -1: chunked, -2: up to the close
	resp.StreamBody = n < 0 || n > maxBuffered
	return resp.ReadBody(br, maxBuffered) // the limit is ignored for a stream
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

// closeStream closes a streamed answer body that transport left in resp
// and gives its connection back to the pool, if whole (the body was read
// to its end: the connection holds no more of it), or closes it.
func closeStream(resp *fasthttp.Response, whole bool) {
	_ = resp.CloseBodyStream()
	uc := upConnOf(resp)
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

package apitest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// Client returns an HTTP client whose every exchange is validated.
func (v *Validator) Client() *http.Client {
	return &http.Client{Transport: v.Transport(nil)}
}

// Transport wraps rt (nil: http.DefaultTransport) so that every request
// and its response are validated. The response body streams to the
// caller; the check runs when the caller has read it to the end or
// closed it (a body never closed is never checked, as it leaks anyway).
func (v *Validator) Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &transport{v: v, rt: rt}
}

type transport struct {
	v  *Validator
	rt http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchange{req: req}
	if req.Body != nil && req.Body != http.NoBody {
		// RoundTrip must not modify req: send a clone with a body that
		// replays what was peeked.
		clone := req.Clone(req.Context())
		clone.Body, x.reqBody, x.reqTruncated = peek(req.Body)
		req = clone
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	x.status, x.header = resp.StatusCode, resp.Header.Clone()
	resp.Body = &teeBody{body: resp.Body, done: func(body []byte, truncated bool) {
		x.body, x.truncated = body, truncated
		t.v.report(t.v.check(x))
	}}
	return resp, nil
}

// teeBody passes a response body through, keeps its first BodyCap bytes
// and calls done once: at the end of the body or when it is closed,
// whichever comes first. A body closed early is read on, up to BodyCap,
// so that what was not read is still checked.
type teeBody struct {
	body      io.ReadCloser
	buf       bytes.Buffer
	truncated bool
	once      sync.Once
	done      func(body []byte, truncated bool)
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.keep(p[:n])
	if err == io.EOF {
		b.finish()
	}
	return n, err
}

func (b *teeBody) Close() error {
	b.once.Do(func() {
		if !b.truncated {
			rest, _ := io.ReadAll(io.LimitReader(b.body, int64(BodyCap-b.buf.Len()+1)))
			b.keep(rest)
		}
		b.done(b.buf.Bytes(), b.truncated)
	})
	return b.body.Close()
}

func (b *teeBody) finish() { b.once.Do(func() { b.done(b.buf.Bytes(), b.truncated) }) }

// keep appends p to the copy while it is under BodyCap.
func (b *teeBody) keep(p []byte) {
	if room := BodyCap - b.buf.Len(); len(p) > room {
		p, b.truncated = p[:room], true
	}
	b.buf.Write(p)
}

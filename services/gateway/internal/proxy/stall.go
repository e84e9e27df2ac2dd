package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/acube/platform/libs/web"
)

// errBodyStalled is the error a request body's read returns once the
// client has sent nothing for the idle time: the transport gives up on the
// upstream request and the error handler answers 408.
var errBodyStalled = errors.New("request body stalled")

// GuardBody gives every read of r's body a deadline of idle from the
// read's start, never later than end: a client that declares more bytes
// than it sends (or stops mid-upload) gets a JSON 408 after idle instead
// of the upstream waiting for the rest until the gateway gives up with a
// 504. The deadline is the connection's (http.ResponseController), so it
// interrupts a read that is already waiting. It returns the request to
// proxy; idle <= 0 leaves r alone.
//
// The error handler learns of the stall from the request's context, not
// from the error: net/http cancels the request's context when a read
// times out, and the transport may report that cancellation first.
func GuardBody(w http.ResponseWriter, r *http.Request, idle time.Duration, end time.Time) *http.Request {
	if idle <= 0 || r.Body == nil || r.Body == http.NoBody {
		return r
	}
	b := &stallBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle, end: end}
	r = r.WithContext(context.WithValue(r.Context(), stallKey{}, b))
	r.Body = b
	return r
}

type stallKey struct{}

// stallBody is a request body under GuardBody.
type stallBody struct {
	io.ReadCloser
	rc        *http.ResponseController
	idle      time.Duration
	end       time.Time
	done      bool // read to its end or failed: no more deadlines
	unguarded bool // the writer cannot set deadlines (a test recorder)
	stalled   atomic.Bool
	malformed atomic.Bool // the body's framing was broken (a bad chunk) or it ended early
}

func (b *stallBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if !b.unguarded {
		d := time.Now().Add(b.idle)
		if !b.end.IsZero() && d.After(b.end) {
			d = b.end
		}
		if err := b.rc.SetReadDeadline(d); err != nil {
			b.unguarded = true
		}
	}
	n, err := b.ReadCloser.Read(p)
	if err == nil {
		return n, nil
	}
	// After the end of the body net/http reads the connection in the
	// background (to notice a client leaving) and clears the deadline
	// itself; setting another now would cancel the request.
	b.done = true
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		b.stalled.Store(true)
		return n, errBodyStalled
	}
	var mbe *http.MaxBytesError
	if !errors.Is(err, io.EOF) && !errors.As(err, &mbe) {
		b.malformed.Store(true)
	}
	return n, err
}

// bodyMalformed reports whether r's body (under GuardBody) failed to
// read: invalid chunked framing (a bad chunk size, a bare LF) or a body
// cut short. It is the client's fault, never the upstream's.
func bodyMalformed(r *http.Request) bool {
	b, ok := r.Context().Value(stallKey{}).(*stallBody)
	return ok && b.malformed.Load()
}

// bodyStalled reports whether r's body (under GuardBody) timed out.
func bodyStalled(r *http.Request) bool {
	b, ok := r.Context().Value(stallKey{}).(*stallBody)
	return ok && b.stalled.Load()
}

// RequestTimeout writes the JSON 408 and closes the connection: what is
// left of the body would otherwise be read as the next request.
func RequestTimeout(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	e := web.RequestTimeout()
	web.WriteJSON(w, e.Status, e)
}

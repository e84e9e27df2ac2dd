package fastpath

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/acube/platform/services/gateway/internal/rawconn"
	"github.com/acube/platform/services/gateway/internal/route"
)

// upstream is one service behind the gateway: a HostClient with pooled
// keep-alive connections.
type upstream struct {
	name   string
	host   string // the Host header upstream requests carry
	client *fasthttp.HostClient
}

func newUpstream(owner route.Owner, raw string, cfg *Config) (*upstream, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("upstream %s: bad URL %q", owner, raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	headerWait := cfg.ResponseHeaderTimeout
	return &upstream{
		name: string(owner),
		host: u.Host,
		client: &fasthttp.HostClient{
			Addr:  addr,
			IsTLS: u.Scheme == "https",
			Dial: func(addr string) (net.Conn, error) {
				c, err := dialer.Dial("tcp", addr)
				if err != nil {
					return nil, err
				}
				return newUpConn(rawconn.WrapClient(c), headerWait), nil
			},
			MaxConns:            cfg.MaxConnsPerHost,
			MaxConnWaitTimeout:  cfg.ResponseHeaderTimeout,
			MaxIdleConnDuration: cfg.IdleConnTimeout,
			ReadBufferSize:      16 << 10,
			WriteBufferSize:     16 << 10,
			// transport reads a small answer body whole and streams the
			// rest: a 1M-row CSV export is never held whole, and the
			// client reads it as the service writes it.
			Transport:                transport{},
			DisablePathNormalizing:   true, // the path goes on as the client sent it
			NoDefaultUserAgentHeader: true,
			// Retried: a request that provably never left (errStaleConn:
			// the pooled connection was found closed before the request
			// was written), whatever its method, past every stale
			// connection of a restarted upstream; and once, an idempotent
			// request whose reused connection the upstream closed without
			// answering. Never a streamed body, never after a timeout.
			MaxIdemponentCallAttempts: cfg.MaxConnsPerHost + 1, // RetryIfErr decides
			RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
				if req.IsBodyStream() {
					return false, false
				}
				if errors.Is(err, errStaleConn) {
					return false, attempts <= cfg.MaxConnsPerHost
				}
				return false, attempts < 2 && (req.Header.IsGet() || req.Header.IsHead()) && isStaleConn(err)
			},
		},
	}, nil
}

// isStaleConn reports errors of a pooled connection the upstream closed
// before our request reached it.
func isStaleConn(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, net.ErrClosed)
}

// errStaleConn is returned by a write of a new request on a pooled
// connection found closed by the upstream (or holding bytes nobody asked
// for) before anything was written: the request never left, so it is
// retried on another connection whatever its method.
var errStaleConn = errors.New("pooled upstream connection closed before the request was written")

// staleCheckAfter is how long a pooled connection may sit idle before its
// next request first checks that the upstream has not closed it (one
// non-blocking peek, so busy connections pay nothing). net/http's
// transport notices such closes with a read per connection in the
// background; fasthttp would write into the dead connection and fail.
// The idle time is counted from the previous request's last write, not
// its answer's last read: never less than the truth, so no idle
// connection goes unchecked, and a connection whose answer took longer
// than this is checked too (one more peek, no clock read per answer).
const staleCheckAfter = 50 * time.Millisecond

// upConn is an upstream connection under the response-header timeout:
// each write of a request makes sure a read deadline at least
// ResponseHeaderTimeout away is armed, and the first read of a streamed
// body after the status line and headers have arrived lifts it, so the
// body may take as long as it needs. fasthttp's own ReadTimeout would
// bound the whole body. (A body read whole, at most maxBuffered bytes,
// is read under the header deadline.)
//
// The deadline is set lazily, as fasthttp's server does with its own: a
// write re-arms it only when the armed one is nearer than
// ResponseHeaderTimeout, to ResponseHeaderTimeout plus an eighth, and an
// answer whose body came with its headers (most) never lifts it. Each
// change of a deadline is a timer operation in the runtime; this way a
// busy connection makes one every wait/8 instead of two per request.
type upConn struct {
	net.Conn
	wait time.Duration
	addr connAddr
	// wrote is when the connection was last written to; replied is set
	// when an answer's bytes have been read since, so the next write
	// starts a new request on a reused connection, idle for at most
	// now - wrote (Write reads the clock anyway, for the deadline).
	wrote   time.Time
	replied bool
	// armed is the read deadline set on Conn (zero: none).
	armed time.Time
	// answered is set when the current response's headers have arrived
	// and its body streams: a further read is of the body, which no
	// deadline bounds. Set by transport, read by Read (the stream's).
	answered atomic.Bool
	// stream holds the current response's body when it streams
	// (takeStream), and done ends it (closeStream).
	stream *fasthttp.Response
	done   func(whole bool)
}

// connAddr is the connection's remote address, carrying the connection
// to a response read from it (upConnOf).
type connAddr struct {
	net.Addr
	conn *upConn
}

func newUpConn(c net.Conn, wait time.Duration) *upConn {
	uc := &upConn{Conn: c, wait: wait}
	uc.addr = connAddr{Addr: c.RemoteAddr(), conn: uc}
	return uc
}

func (c *upConn) Write(p []byte) (int, error) {
	now := time.Now()
	c.answered.Store(false)
	// Armed before the peek: a raw read on a connection whose deadline
	// has passed would fail before looking.
	if want := now.Add(c.wait); c.armed.Before(want) {
		if err := c.setReadDeadline(want.Add(c.wait / 8)); err != nil {
			return 0, err
		}
	}
	if c.replied {
		c.replied = false
		if now.Sub(c.wrote) > staleCheckAfter && !usable(c.Conn) {
			return 0, errStaleConn
		}
	}
	c.wrote = now
	return c.Conn.Write(p)
}

func (c *upConn) Read(p []byte) (int, error) {
	if c.answered.Load() && !c.armed.IsZero() {
		// A body read past what came with the headers: lift the header
		// deadline.
		if err := c.setReadDeadline(time.Time{}); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.replied = true
	}
	return n, err
}

func (c *upConn) setReadDeadline(t time.Time) error {
	c.armed = t
	return c.Conn.SetReadDeadline(t)
}

// usable peeks at an idle connection without blocking: it is usable when
// nothing is waiting to be read (EAGAIN), not when the upstream closed it
// (EOF, a reset) or sent bytes no request asked for.
func usable(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	ok = true
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read is the only good answer: EOF (no error, no
		// bytes) or bytes nobody asked for mean the connection is done,
		// as does any error but EAGAIN.
		ok = err != nil && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR))
		return true // one look, never wait
	})
	return ok
}

// SetReadDeadline ignores fasthttp's clearing of the deadline (it clears
// it after writing each request on a new connection, having no read
// timeout of its own), which would lift the header deadline just armed.
func (c *upConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return c.setReadDeadline(t)
}

func (c *upConn) RemoteAddr() net.Addr { return &c.addr }

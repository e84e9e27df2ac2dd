package fastpath

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

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
				return newUpConn(c, headerWait), nil
			},
			MaxConns:            cfg.MaxConnsPerHost,
			MaxConnWaitTimeout:  cfg.ResponseHeaderTimeout,
			MaxIdleConnDuration: cfg.IdleConnTimeout,
			ReadBufferSize:      16 << 10,
			WriteBufferSize:     16 << 10,
			// Bodies stream through: a 1M-row CSV export is never held
			// whole, and the client reads it as the service writes it.
			StreamResponseBody:       true,
			DisablePathNormalizing:   true, // the path goes on as the client sent it
			NoDefaultUserAgentHeader: true,
			// One retry, only of a request that never reached a reused
			// connection's server (it had closed it): never after a
			// timeout, never of a body.
			RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
				return false, attempts < 2 && !req.IsBodyStream() && isStaleConn(err)
			},
		},
	}, nil
}

// isStaleConn reports errors of a pooled connection the upstream closed
// before our request reached it.
func isStaleConn(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, net.ErrClosed)
}

// upConn is an upstream connection under the response-header timeout:
// each write of a request arms a read deadline of ResponseHeaderTimeout,
// and the proxy clears it (clearHeaderDeadline) once the status line and
// headers have arrived, so a streamed body may take as long as it needs.
// fasthttp's own ReadTimeout would bound the whole body.
type upConn struct {
	net.Conn
	wait time.Duration
	addr connAddr
}

// connAddr is the connection's remote address, carrying the connection
// back to the proxy: fasthttp gives a response its RemoteAddr() and
// nothing else of the connection.
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
	n, err := c.Conn.Write(p)
	if err == nil {
		err = c.Conn.SetReadDeadline(time.Now().Add(c.wait))
	}
	return n, err
}

// SetReadDeadline ignores fasthttp's clearing of the deadline (it clears
// it after writing each request on a new connection, having no read
// timeout of its own), which would lift the header deadline just armed.
func (c *upConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *upConn) RemoteAddr() net.Addr { return &c.addr }

// clearHeaderDeadline lifts the response-header deadline of the
// connection resp was read from.
func clearHeaderDeadline(resp *fasthttp.Response) {
	if a, ok := resp.RemoteAddr().(*connAddr); ok {
		_ = a.conn.Conn.SetReadDeadline(time.Time{})
	}
}

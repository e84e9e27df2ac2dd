// Package rawconn wraps TCP connections so that their reads and writes
// are raw system calls, made while the goroutine keeps its P.
//
// Through net.TCPConn every read and write enters the scheduler's syscall
// state. A loopback write runs the receiver's TCP stack inside the call
// (tens of µs in a microVM), long enough for the runtime's monitor
// (sysmon) to take the P away and hand it to another thread; the thread
// then wakes, finds the P gone and parks. At tens of thousands of writes a
// second those hand-offs, their futex wake-ups and the monitor's own
// polling cost the gateway more CPU than its handlers
// (docs/benchmarks-gateway.md, "System calls"). A non-blocking socket's
// read or write never blocks, so nothing is lost by keeping the P through
// it; when the socket is not ready the wait is the runtime's netpoller,
// exactly as for net.TCPConn, deadlines included.
//
// The client end of a request–response exchange (an HTTP/1.1 upstream
// connection) also saves the read that would find nothing: see WrapClient.
//
// Deadlines are armed in the poller lazily (see deadline), which saves
// the runtime's timer work of the three deadline changes an HTTP server
// makes per request.
//
// Everything but Read, Write and the deadlines is the wrapped
// *net.TCPConn's.
package rawconn

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Conn is a TCP connection read and written with raw system calls.
type Conn struct {
	*net.TCPConn
	raw syscall.RawConn

	// The read and the write in progress. Their poller callbacks are
	// bound once, in Wrap: a closure per call would be an allocation per
	// read and per write. The mutexes keep net.Conn's promise that
	// Read (or Write) may be called from several goroutines at once.
	rdMu sync.Mutex
	rd   reading
	wrMu sync.Mutex
	wr   writing

	// The read and the write deadline, on a clock that starts at epoch
	// (monotonic: the wall clock may jump).
	epoch      time.Time
	rdDL, wrDL deadline

	// client: requests are held back until their answer is read
	// (WrapClient).
	client bool
	// mayHold: the next write starts a request (nothing was written
	// since the last read) and may be held.
	mayHold bool
	// held is a request written but not yet sent.
	held []byte
}

// maxHeld is the largest write a client Conn holds back: a request head,
// a small request with its body. A larger one goes out at once.
const maxHeld = 64 << 10

// Wrap returns c with raw reads and writes when it is a *net.TCPConn, and
// c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rc := &Conn{TCPConn: tc, raw: raw, epoch: time.Now()}
	rc.rd.fn, rc.wr.fn = rc.rd.step, rc.wr.step
	rc.rd.c, rc.wr.c = rc, rc
	rc.rdDL.set, rc.wrDL.set = tc.SetReadDeadline, tc.SetWriteDeadline
	return rc
}

// WrapClient is Wrap for the client end of a request–response exchange,
// where each request is written and then its answer read: an HTTP/1.1
// upstream connection.
//
// It saves a system call per request. A read right after a request finds
// nothing yet (EAGAIN) and then waits in the runtime's poller; that first
// read is needed because a wait begins by forgetting what the poller saw
// before it, and bytes that arrived in between would otherwise be waited
// for in vain. A client Conn instead holds back the first write after a
// read (up to maxHeld bytes) and sends it at the start of the next read,
// inside that read's wait: the answer can only arrive after the request
// is sent, so the wait sees it, and the first read is skipped. A second
// write before a read sends what is held and then itself at once, so a
// streamed request body is never held back.
//
// Write errors of a held request (a reset, say) come from the Read that
// sends it, as a *net.OpError whose Op is "write". Read and Write must not
// be called concurrently: a write while a read waits would be held until
// the next read. fasthttp's HostClient uses a connection for one exchange
// at a time; a Redis client does not (a Pub/Sub connection, such as
// Sentinel's, pings while its reader waits), so WrapDial does not hold.
func WrapClient(c net.Conn) net.Conn {
	w := Wrap(c)
	if rc, ok := w.(*Conn); ok {
		rc.client, rc.mayHold = true, true
	}
	return w
}

// Read reads as net.TCPConn.Read does: io.EOF at the end of the stream,
// a *net.OpError otherwise (os.ErrDeadlineExceeded past the read
// deadline, net.ErrClosed once closed).
func (c *Conn) Read(p []byte) (int, error) {
	c.rdMu.Lock()
	defer c.rdMu.Unlock()
	c.begin(&c.rdDL)
	if c.client {
		c.mayHold = true
		if len(c.held) > 0 {
			if len(p) == 0 {
				c.wrMu.Lock()
				defer c.wrMu.Unlock()
				return 0, c.release()
			}
			return c.sendAndRead(p)
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	return c.read(p)
}

// sendAndRead sends the held request and reads its answer into p (not
// empty). The write is the first thing the read does, after the poller's
// readiness is reset, so the read then waits for the answer without
// trying first.
func (c *Conn) sendAndRead(p []byte) (int, error) {
	held := c.held
	c.held = c.held[:0]
	r := c.rd.start(p, held)
	err := c.raw.Read(r.fn)
	c.rdDL.end()
	op, sent := r.op, r.sent
	n, errno := r.done()
	if err == nil && errno == 0 && sent < len(held) {
		c.wrMu.Lock()
		_, err := c.write(held[sent:])
		c.wrMu.Unlock()
		if err != nil {
			return 0, err
		}
		return c.read(p)
	}
	return c.readResult(op, err, n, errno)
}

// read reads into p (not empty), with rdMu held.
func (c *Conn) read(p []byte) (int, error) {
	r := c.rd.start(p, nil)
	err := c.raw.Read(r.fn)
	c.rdDL.end()
	n, errno := r.done()
	return c.readResult("read", err, n, errno)
}

// reading is the state of one read: a held request to send first, if
// any, then one read into p.
type reading struct {
	c     *Conn
	fn    func(fd uintptr) bool // step, bound once
	p     []byte
	held  []byte
	sent  int
	n     int
	errno syscall.Errno
	op    string // the system call errno came from
}

func (r *reading) start(p, held []byte) *reading {
	r.p, r.held, r.sent, r.n, r.errno, r.op = p, held, 0, 0, 0, "read"
	return r
}

// step is the poller's callback: it reports whether the read is over
// (false: wait for the socket to be readable and call again).
func (r *reading) step(fd uintptr) bool {
	if r.sent < len(r.held) {
		k, e, again := writeFD(fd, r.held[r.sent:])
		r.sent += k
		if e != 0 {
			r.errno, r.op = e, "write"
		}
		// Sent: wait for the answer. Failed, or the send buffer is
		// full (write finishes it): stop.
		if e != 0 || again {
			return true
		}
		r.c.wait(&r.c.rdDL)
		return false
	}
	var again bool
	r.n, r.errno, again = readFD(fd, r.p)
	if again { // wait in the netpoller
		r.c.wait(&r.c.rdDL)
	}
	return !again
}

// done drops the read's buffers and returns its outcome.
func (r *reading) done() (int, syscall.Errno) {
	r.p, r.held = nil, nil
	return r.n, r.errno
}

// readResult is what Read returns for a read that ended with err (the
// poller's: deadline, closed), errno (op's system call's) or n bytes.
func (c *Conn) readResult(op string, err error, n int, errno syscall.Errno) (int, error) {
	switch {
	case err != nil:
		return 0, c.opError(op, err)
	case errno != 0:
		return 0, c.opError(op, os.NewSyscallError(op, errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, as net.TCPConn.Write does, waiting in the
// netpoller while the socket's buffer is full. A client Conn may hold p
// back until the next Read (WrapClient).
func (c *Conn) Write(p []byte) (int, error) {
	c.wrMu.Lock()
	defer c.wrMu.Unlock()
	c.begin(&c.wrDL)
	if c.client {
		if c.mayHold && len(p) <= maxHeld {
			// No system call, but the errors of one: a closed
			// connection, a passed write deadline.
			if err := c.raw.Write(func(uintptr) bool { return true }); err != nil {
				return 0, c.opError("write", err)
			}
			c.mayHold = false
			c.held = append(c.held[:0], p...)
			return len(p), nil
		}
		c.mayHold = false
		if err := c.release(); err != nil {
			return 0, err
		}
	}
	return c.write(p)
}

// release sends what is held, with wrMu held.
func (c *Conn) release() error {
	if len(c.held) == 0 {
		return nil
	}
	held := c.held
	c.held = c.held[:0]
	_, err := c.write(held)
	return err
}

// write writes all of p, with wrMu held.
func (c *Conn) write(p []byte) (int, error) {
	w := &c.wr
	w.p, w.n, w.errno = p, 0, 0
	err := c.raw.Write(w.fn)
	c.wrDL.end()
	n, errno := w.n, w.errno
	w.p = nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// writing is the state of one write of p.
type writing struct {
	c     *Conn
	fn    func(fd uintptr) bool // step, bound once
	p     []byte
	n     int
	errno syscall.Errno
}

// step is the poller's callback: it reports whether the write is over
// (false: wait for the socket to be writable and call again).
func (w *writing) step(fd uintptr) bool {
	k, e, again := writeFD(fd, w.p[w.n:])
	w.n += k
	w.errno = e
	if again { // wait in the netpoller
		w.c.wait(&w.c.wrDL)
	}
	return !again
}

// readFD reads once into p (not empty), past EINTR; again reports EAGAIN:
// nothing to read yet.
func readFD(fd uintptr, p []byte) (n int, errno syscall.Errno, again bool) {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, 0, true
		}
		return int(r), e, false
	}
}

// writeFD writes p until all of it is written, the socket's buffer is
// full (again) or the call fails (errno), and returns how much it wrote.
func writeFD(fd uintptr, p []byte) (n int, errno syscall.Errno, again bool) {
	for n < len(p) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
		switch e {
		case 0:
			n += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return n, 0, true
		default:
			return n, e, false
		}
	}
	return n, 0, false
}

func (c *Conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Listener accepts connections wrapped by Wrap.
type Listener struct {
	net.Listener
}

// Accept waits for the next connection and wraps it.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// WrapDial returns dial with each TCP connection it opens wrapped by Wrap
// (not WrapClient: a Redis client may write while it reads): a Redis
// client's Dialer.
func WrapDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}

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
// Everything but Read and Write is the wrapped *net.TCPConn's.
package rawconn

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection read and written with raw system calls.
type Conn struct {
	*net.TCPConn
	raw syscall.RawConn

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
	return &Conn{TCPConn: tc, raw: raw}
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
	if c.client {
		c.mayHold = true
		if len(c.held) > 0 {
			if len(p) == 0 {
				return 0, c.release()
			}
			return c.sendAndRead(p)
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n     int
		errno syscall.Errno
	)
	err := c.raw.Read(func(fd uintptr) bool {
		var again bool
		n, errno, again = readFD(fd, p)
		return !again // again: wait in the netpoller
	})
	return c.readResult("read", err, n, errno)
}

// sendAndRead sends the held request and reads its answer into p (not
// empty). The write is the first thing the read does, after the poller's
// readiness is reset, so the read then waits for the answer without
// trying first.
func (c *Conn) sendAndRead(p []byte) (int, error) {
	held := c.held
	c.held = c.held[:0]
	var (
		sent, n int
		errno   syscall.Errno
		op      = "read"
	)
	err := c.raw.Read(func(fd uintptr) bool {
		if sent < len(held) {
			k, e, again := writeFD(fd, held[sent:])
			sent += k
			if e != 0 {
				errno, op = e, "write"
			}
			// Sent: wait for the answer. Failed, or the send buffer is
			// full (write finishes it below): stop.
			return e != 0 || again
		}
		var again bool
		n, errno, again = readFD(fd, p)
		return !again
	})
	if err == nil && errno == 0 && sent < len(held) {
		if _, err := c.write(held[sent:]); err != nil {
			return 0, err
		}
		return c.Read(p)
	}
	return c.readResult(op, err, n, errno)
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

// release sends what is held.
func (c *Conn) release() error {
	if len(c.held) == 0 {
		return nil
	}
	held := c.held
	c.held = c.held[:0]
	_, err := c.write(held)
	return err
}

func (c *Conn) write(p []byte) (int, error) {
	var (
		n     int
		errno syscall.Errno
	)
	err := c.raw.Write(func(fd uintptr) bool {
		k, e, again := writeFD(fd, p[n:])
		n += k
		errno = e
		return !again // again: wait in the netpoller
	})
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
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

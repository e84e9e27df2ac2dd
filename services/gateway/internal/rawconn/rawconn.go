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
}

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

// Read reads as net.TCPConn.Read does: io.EOF at the end of the stream,
// a *net.OpError otherwise (os.ErrDeadlineExceeded past the read
// deadline, net.ErrClosed once closed).
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n     int
		errno syscall.Errno
	)
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait in the netpoller
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, as net.TCPConn.Write does, waiting in the
// netpoller while the socket's buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	var (
		n     int
		errno syscall.Errno
	)
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
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

// WrapDial returns dial with each TCP connection it opens wrapped by Wrap:
// a Redis client's Dialer, say.
func WrapDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}

//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// rawBufSize bounds one answer: the benchmark's answers are a few hundred
// bytes.
const rawBufSize = 64<<10 + 4096

// rawConn is one sender's keep-alive connection in RunRawHTTP.
type rawConn struct {
	fd   int // -1 when closed
	buf  []byte
	n    int  // bytes of the answer read so far
	busy bool // a request is in flight
	idx  int  // the request in flight, or the next one to send
}

// rawLoop is the state of one RunRawHTTP.
type rawLoop struct {
	load     Load
	req      []byte
	sa       syscall.Sockaddr
	domain   int
	epfd     int
	conns    []rawConn
	start    time.Time
	interval time.Duration
	total    int
	warm     int
	inflight int
	rescan   bool // a sender may have a due request nobody will send: look
	res      RawResult
}

// RunRawHTTP offers the load to one HTTP/1.1 server at addr (host:port)
// with the same schedule and the same rules as Run (request i due at
// start + i/Rate, sender s owns requests s, s+Senders…, sent when due or
// as soon as the sender's previous answer is in, latency from the due
// time), writing req, a whole HTTP/1.1 request, on one keep-alive
// connection per sender.
//
// It exists because Run, 64 goroutines each waiting on a Go timer, cannot
// keep a schedule of tens of thousands of requests per second on the one
// CPU it shares with an upstream: Go's timers sleep in whole milliseconds
// in epoll_wait, and each request costs a timer, a goroutine switch and
// net/http's answer parsing. RunRawHTTP is one event loop on one locked
// OS thread: non-blocking sockets and a timerfd (nanosecond expiry) in one
// epoll set, answers delimited by their Content-Length in per-connection
// buffers, latencies written into slices sized before the start: no
// allocation, no goroutine and no garbage collection while it runs.
// Answers must carry a Content-Length (chunked ones count as errors).
func (l Load) RunRawHTTP(ctx context.Context, addr string, req []byte) (RawResult, error) {
	if l.Rate <= 0 {
		return RawResult{}, fmt.Errorf("open loop: rate %g must be positive", l.Rate)
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return RawResult{}, fmt.Errorf("open loop: resolve %s: %w", addr, err)
	}
	lp := &rawLoop{load: l, req: req, total: int(l.Rate * (l.Warmup + l.Duration).Seconds()),
		warm: int(l.Rate * l.Warmup.Seconds()), interval: time.Duration(float64(time.Second) / l.Rate)}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		lp.sa, lp.domain = sa, syscall.AF_INET
	} else {
		sa := &syscall.SockaddrInet6{Port: ta.Port}
		copy(sa.Addr[:], ta.IP.To16())
		lp.sa, lp.domain = sa, syscall.AF_INET6
	}
	measured := max(lp.total-lp.warm, 0)
	lp.res.Latencies = make([]time.Duration, 0, measured)
	lp.res.Lags = make([]time.Duration, 0, measured)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if lp.epfd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return RawResult{}, fmt.Errorf("open loop: epoll: %w", err)
	}
	defer syscall.Close(lp.epfd)
	tfd, err := timerfd()
	if err != nil {
		return RawResult{}, err
	}
	defer syscall.Close(tfd)
	// Edge-triggered: re-arming the timer resets it, so it is never read.
	if err := syscall.EpollCtl(lp.epfd, syscall.EPOLL_CTL_ADD, tfd, &syscall.EpollEvent{Events: syscall.EPOLLIN | -syscall.EPOLLET, Fd: -1}); err != nil {
		return RawResult{}, fmt.Errorf("open loop: epoll add timer: %w", err)
	}
	lp.conns = make([]rawConn, max(l.Senders, 1))
	for s := range lp.conns {
		// Before any dial: a failed one returns through the deferred
		// close, which must not take fd 0 for a connection not yet made.
		c := &lp.conns[s]
		c.fd, c.idx, c.buf = -1, s, make([]byte, rawBufSize)
	}
	defer func() {
		for i := range lp.conns {
			if lp.conns[i].fd >= 0 {
				syscall.Close(lp.conns[i].fd)
			}
		}
	}()
	for s := range lp.conns {
		if err := lp.dial(s); err != nil {
			return RawResult{}, err
		}
	}
	err = lp.run(ctx, tfd)
	return lp.res, err
}

// run is the event loop: send what is due, arm the timer for the next due
// time, wait for it or for answers, read them.
func (lp *rawLoop) run(ctx context.Context, tfd int) error {
	lp.start = time.Now().Add(time.Millisecond)
	events := make([]syscall.EpollEvent, len(lp.conns)+1)
	senders := len(lp.conns)
	cursor, armed := 0, -1
	var drainUntil time.Time
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		for cursor < lp.total && !lp.due(cursor).After(now) {
			if c := &lp.conns[cursor%senders]; !c.busy && c.idx == cursor && c.fd >= 0 {
				lp.send(cursor % senders)
			}
			cursor++
		}
		if lp.rescan || (cursor >= lp.total && lp.inflight == 0) {
			lp.rescan = false
			lp.sendOverdue(now)
		}
		waitMs := 10 // at most, to see ctx end and let the runtime run
		if cursor < lp.total {
			wait := lp.due(cursor).Sub(time.Now())
			if wait <= 0 {
				continue
			}
			if armed != cursor {
				if err := armTimer(tfd, wait); err != nil {
					return err
				}
				armed = cursor
			}
		} else {
			if lp.inflight == 0 {
				return nil
			}
			if drainUntil.IsZero() {
				drainUntil = time.Now().Add(10 * time.Second)
			} else if time.Now().After(drainUntil) {
				lp.fail(-1, fmt.Errorf("%d answers missing 10 s after the last request was due", lp.inflight))
				return nil
			}
		}
		n, err := epollWait(lp.epfd, events, waitMs)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return fmt.Errorf("open loop: epoll wait: %w", err)
		}
		for _, ev := range events[:n] {
			if ev.Fd < 0 {
				armed = -1 // expired: re-arm even if the cursor has not moved
			} else {
				lp.read(int(ev.Pad))
			}
		}
	}
}

// sendOverdue sends the next request of every idle sender whose next
// request is already due: after a failure, nobody else would.
func (lp *rawLoop) sendOverdue(now time.Time) {
	for s := range lp.conns {
		if c := &lp.conns[s]; !c.busy && c.fd >= 0 && c.idx < lp.total && !lp.due(c.idx).After(now) {
			lp.send(s)
		}
	}
}

// due is when request i is to be sent.
func (lp *rawLoop) due(i int) time.Time { return lp.start.Add(time.Duration(i) * lp.interval) }

// send writes sender s's next request.
func (lp *rawLoop) send(s int) {
	c := &lp.conns[s]
	lag := time.Since(lp.due(c.idx))
	n, err := rawIO(syscall.SYS_WRITE, c.fd, lp.req)
	if err == nil && n < len(lp.req) {
		err = errors.New("short write")
	}
	lp.res.Offered++
	if lag > time.Millisecond {
		lp.res.Late++
	}
	if c.idx >= lp.warm {
		lp.res.Measured++
		lp.res.Lags = append(lp.res.Lags, lag)
	}
	c.busy, c.n = true, 0
	lp.inflight++
	if err != nil {
		lp.fail(s, fmt.Errorf("send: %w", err))
	}
}

// read takes what sender s's connection has; once its answer is whole it
// records it and sends the sender's next request if that is already due.
func (lp *rawLoop) read(s int) {
	c := &lp.conns[s]
	if !c.busy {
		// Readable while idle: the server closed, or sent what was not asked.
		lp.reconnect(s, "unasked data or close")
		return
	}
	n, err := rawIO(syscall.SYS_READ, c.fd, c.buf[c.n:])
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return
	}
	if err == nil && n == 0 {
		err = errors.New("connection closed by the server")
	}
	if err != nil {
		lp.fail(s, fmt.Errorf("read answer: %w", err))
		return
	}
	c.n += n
	status, size, closing, err := parseAnswer(c.buf[:c.n])
	switch {
	case err != nil:
		lp.fail(s, err)
		return
	case size == 0:
		if c.n == len(c.buf) {
			lp.fail(s, errors.New("answer larger than the buffer"))
		}
		return
	case size != c.n:
		lp.fail(s, errors.New("more bytes than one answer"))
		return
	}
	end := time.Now()
	if c.idx >= lp.warm {
		if status >= 200 && status < 300 {
			lp.res.Latencies = append(lp.res.Latencies, end.Sub(lp.due(c.idx)))
		} else {
			lp.countError(fmt.Errorf("status %d", status))
		}
	}
	c.busy, c.n = false, 0
	lp.inflight--
	c.idx += len(lp.conns)
	if closing {
		lp.reconnect(s, "")
	}
	if c.fd >= 0 && c.idx < lp.total && !lp.due(c.idx).After(end) {
		lp.send(s)
	}
}

// fail ends sender s's request in flight with err and reconnects (s < 0:
// every request in flight).
func (lp *rawLoop) fail(s int, err error) {
	for i := range lp.conns {
		c := &lp.conns[i]
		if (s >= 0 && i != s) || !c.busy {
			continue
		}
		if c.idx >= lp.warm {
			lp.countError(err)
		}
		c.busy, c.n = false, 0
		lp.inflight--
		c.idx += len(lp.conns)
		if s >= 0 {
			lp.reconnect(i, "")
		}
	}
}

func (lp *rawLoop) countError(err error) {
	lp.res.Errors++
	if lp.res.FirstErr == nil {
		lp.res.FirstErr = err
	}
}

// reconnect replaces sender s's connection; if that fails the sender's
// remaining requests are counted as errors and it stops.
func (lp *rawLoop) reconnect(s int, why string) {
	c := &lp.conns[s]
	if c.fd >= 0 {
		syscall.Close(c.fd) // leaves the epoll set with it
		c.fd = -1
	}
	if why != "" && lp.res.FirstErr == nil {
		lp.res.FirstErr = errors.New(why)
	}
	lp.rescan = true
	if err := lp.dial(s); err != nil {
		for ; c.idx < lp.total; c.idx += len(lp.conns) {
			if c.idx >= lp.warm {
				lp.countError(err)
			}
		}
	}
}

// dial opens sender s's connection (blocking connect, then non-blocking)
// and adds it to the epoll set.
func (lp *rawLoop) dial(s int) error {
	fd, err := syscall.Socket(lp.domain, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open loop: socket: %w", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("open loop: TCP_NODELAY: %w", err)
	}
	if err := syscall.Connect(fd, lp.sa); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("open loop: connect: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("open loop: non-blocking: %w", err)
	}
	// Fd says "a connection"; Pad carries the sender's index.
	if err := syscall.EpollCtl(lp.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 0, Pad: int32(s)}); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("open loop: epoll add: %w", err)
	}
	lp.conns[s].fd = fd
	return nil
}

// rawIO is read(2) or write(2) on a non-blocking socket as a raw system
// call. The loop's system calls are raw so that the thread keeps its P
// throughout: through syscall.Read, Write and EpollWait a loopback write
// (tens of µs in a microVM, as it runs the receiver's TCP stack) let the
// runtime's monitor hand the P to another thread and back, and futex and
// nanosleep calls outnumbered the requests. Nothing else needs the P
// meanwhile.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// epollWait is epoll_pwait as a raw system call (see rawIO); the
// runtime's preemption signal only ends a wait early.
func epollWait(epfd int, events []syscall.EpollEvent, ms int) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(ms), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// timerfd is a non-blocking CLOCK_MONOTONIC timerfd.
func timerfd() (int, error) {
	const clockMonotonic, tfdNonblock, tfdCloexec = 1, syscall.O_NONBLOCK, syscall.O_CLOEXEC
	fd, _, errno := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return -1, fmt.Errorf("open loop: timerfd: %w", errno)
	}
	return int(fd), nil
}

// armTimer sets the timerfd to expire once, d from now.
func armTimer(fd int, d time.Duration) error {
	var spec struct{ interval, value syscall.Timespec }
	spec.value = syscall.NsecToTimespec(max(int64(d), 1))
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, uintptr(fd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("open loop: arm timer: %w", errno)
	}
	return nil
}

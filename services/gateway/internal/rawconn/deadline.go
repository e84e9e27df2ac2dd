package rawconn

import (
	"math"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// deadline is one direction's deadline (reads or writes), armed in the
// runtime's poller lazily.
//
// Each change of a poller deadline is a timer operation in the runtime,
// and an HTTP/1.1 server changes them three times per request: the idle
// wait for the next request, the time to read it, the time to write the
// answer (fasthttp's server: about 2 000 instructions a request, 5 % of
// a proxied request's user-space work). Yet a deadline only matters to a
// call that waits, or that starts after it passed. So SetReadDeadline
// and SetWriteDeadline only record what is wanted, and the poller is
// told when a call is about to wait for the socket (EAGAIN) and the
// armed deadline is not close enough to the wanted one: earlier than it,
// or later by more than an eighth of the time left. It is then armed a
// sixteenth of the time left past the wanted one, so that on a busy
// connection, whose next deadline is the last one moved on by a request
// or two, a wait finds the armed one good enough for a while.
//
// What a caller sees is net.Conn's contract with one latitude: a call
// waiting for the socket fails at most an eighth of its deadline's time
// left (as of when the wait began) late, never early. A call that starts
// after its deadline passed fails at once, as net's (begin); a deadline
// set while a call waits is armed at once, so it interrupts that call.
// (And setting a deadline on a closed Conn is no error: its next call
// reports the close.)
type deadline struct {
	want atomic.Int64 // on the Conn's clock (Conn.at); 0: none
	// armed is what the poller has, on the same clock (0: none);
	// written with mu held.
	armed   atomic.Int64
	waiting atomic.Bool // a call waits in the poller, or is about to
	mu      sync.Mutex
	set     func(time.Time) error // the poller's: the TCPConn's Set*Deadline
	arms    int                   // times armed, for tests; mu held
}

// at is t on the Conn's clock: nanoseconds since epoch, 0 for the zero
// time (no deadline) and never 0 otherwise.
func (c *Conn) at(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := int64(t.Sub(c.epoch)); n != 0 {
		return n
	}
	return 1
}

// now is the Conn's clock (monotonic).
func (c *Conn) now() int64 { return int64(time.Since(c.epoch)) }

// SetDeadline sets the read and the write deadline (net.Conn).
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline (net.Conn), armed lazily.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(&c.rdDL, t) }

// SetWriteDeadline sets the write deadline (net.Conn), armed lazily.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(&c.wrDL, t) }

func (c *Conn) setDeadline(d *deadline, t time.Time) error {
	d.want.Store(c.at(t))
	// A call waiting now would not look again. The next call sees to
	// the rest (begin, wait).
	if d.waiting.Load() {
		return c.arm(d, 0, true)
	}
	return nil
}

// begin readies d for a call starting: a wanted deadline that has passed
// is armed, so the call fails as net's would, and so is any other when
// the armed one has passed (a stale deadline the call would fail on).
// Arming fails only on a closed connection, which the call reports.
func (c *Conn) begin(d *deadline) {
	w, a := d.want.Load(), d.armed.Load()
	if w == a {
		return
	}
	if now := c.now(); w != 0 && w <= now || a != 0 && a <= now {
		_ = c.arm(d, now, true)
	}
}

// wait is called when a call is about to wait in the poller: from then
// on a new deadline is armed by whoever sets it, and the wanted one is
// armed now unless the armed one is close enough.
func (c *Conn) wait(d *deadline) {
	d.waiting.Store(true)
	_ = c.arm(d, c.now(), false)
}

// end is called when a call is over.
func (d *deadline) end() {
	if d.waiting.Load() {
		d.waiting.Store(false)
	}
}

// arm gives the poller d's wanted deadline: exactly, or (unless exact,
// and the deadline is ahead of now) the armed one when close enough,
// else one a sixteenth of the time left later.
func (c *Conn) arm(d *deadline, now int64, exact bool) error {
	if !exact && closeEnough(d.want.Load(), d.armed.Load(), now) {
		return nil // the common case, without the lock
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w, a := d.want.Load(), d.armed.Load()
	target := w
	if !exact && w > now {
		if closeEnough(w, a, now) {
			return nil
		}
		if extra := (w - now) / 16; w <= math.MaxInt64-extra {
			target = w + extra
		}
	}
	if target == a {
		return nil
	}
	var t time.Time
	if target != 0 {
		t = c.epoch.Add(time.Duration(target))
	}
	if err := d.set(t); err != nil {
		return err
	}
	d.armed.Store(target)
	d.arms++
	return nil
}

// closeEnough reports whether armed a may stand for wanted w at now: not
// earlier, and later by at most an eighth of the time left.
func closeEnough(w, a, now int64) bool {
	return w > now && a >= w && a-w <= (w-now)/8
}

// SyscallConn is the TCPConn's, but its Read and Write see this Conn's
// deadlines as its own Read and Write do: a raw call through the
// TCPConn's would meet the armed deadline, which may be stale (an
// upstream connection's peek for a close before it is reused, say). Its
// Read must not run beside the Conn's Read, nor its Write beside Write:
// a deadline set meanwhile could miss the call that waits.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return rawConn{c}, nil }

type rawConn struct{ c *Conn }

func (r rawConn) Control(f func(fd uintptr)) error { return r.c.raw.Control(f) }

func (r rawConn) Read(f func(fd uintptr) bool) error {
	return r.c.rawCall(&r.c.rdDL, r.c.raw.Read, f)
}

func (r rawConn) Write(f func(fd uintptr) bool) error {
	return r.c.rawCall(&r.c.wrDL, r.c.raw.Write, f)
}

// rawCall runs a raw read or write (call) of f under deadline d.
func (c *Conn) rawCall(d *deadline, call func(func(uintptr) bool) error, f func(uintptr) bool) error {
	c.begin(d)
	defer d.end()
	return call(func(fd uintptr) bool {
		if f(fd) {
			return true
		}
		c.wait(d)
		return false
	})
}

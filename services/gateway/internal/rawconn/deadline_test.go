package rawconn

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// readLater reads from c while peer writes msg after delay, so that the
// read waits in the poller.
func readLater(t *testing.T, c, peer net.Conn, delay time.Duration, msg string) {
	t.Helper()
	go func() {
		time.Sleep(delay)
		_, _ = peer.Write([]byte(msg))
	}()
	if got := readFor(t, c, len(msg)); got != msg {
		t.Fatalf("read %q, want %q", got, msg)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

// TestDeadlinesArmLazily: a connection whose deadlines move on with each
// exchange, as an HTTP server's do, arms its read deadline in the poller
// for the first wait only, and its write deadline never (no write
// waited).
func TestDeadlinesArmLazily(t *testing.T) {
	eachEnd(t, "50 exchanges", func(t *testing.T, end, peer net.Conn) {
		c := end.(*Conn)
		for i := range 50 {
			if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := c.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			// The peer answers a moment after the request, so that the
			// read of the answer waits.
			got := make(chan string, 1)
			go func() {
				b := readFor(t, peer, 4)
				time.Sleep(time.Millisecond)
				_, _ = peer.Write([]byte("pong"))
				got <- b
			}()
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if b := readFor(t, c, 4); b != "pong" {
				t.Fatalf("exchange %d: read %q", i, b)
			}
			if b := <-got; b != "ping" {
				t.Fatalf("exchange %d: peer read %q", i, b)
			}
		}
		c.rdDL.mu.Lock()
		c.wrDL.mu.Lock()
		rd, wr := c.rdDL.arms, c.wrDL.arms
		c.wrDL.mu.Unlock()
		c.rdDL.mu.Unlock()
		if rd != 1 || wr != 0 {
			t.Errorf("armed the read deadline %d times and the write deadline %d times in 50 exchanges, want 1 and 0", rd, wr)
		}
	})
}

// TestDeadlinesAsNet: what a caller sees of deadlines is net.Conn's
// (a waiting call may only time out late, never early).
func TestDeadlinesAsNet(t *testing.T) {
	tests := []struct {
		name string
		// run does its thing on c (wrapped) and peer, and returns the
		// error of the call it checks.
		run     func(t *testing.T, c, peer net.Conn) error
		timeout bool // the call must time out; else succeed
	}{
		{
			name: "a read waiting times out, not before its deadline",
			run: func(t *testing.T, c, _ net.Conn) error {
				deadline := time.Now().Add(100 * time.Millisecond)
				if err := c.SetReadDeadline(deadline); err != nil {
					t.Fatal(err)
				}
				_, err := c.Read(make([]byte, 4))
				if now := time.Now(); now.Before(deadline) {
					t.Errorf("timed out %v before the deadline", deadline.Sub(now))
				}
				return err
			},
			timeout: true,
		},
		{
			name: "a read starting after its deadline passed fails, data or not",
			run: func(t *testing.T, c, peer net.Conn) error {
				if _, err := peer.Write([]byte("data")); err != nil {
					t.Fatal(err)
				}
				if err := c.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(30 * time.Millisecond)
				_, err := c.Read(make([]byte, 4))
				return err
			},
			timeout: true,
		},
		{
			name: "a write starting after its deadline passed fails",
			run: func(t *testing.T, c, _ net.Conn) error {
				if err := c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(30 * time.Millisecond)
				_, err := c.Write([]byte("data"))
				return err
			},
			timeout: true,
		},
		{
			name: "a deadline set while a read waits interrupts it",
			run: func(t *testing.T, c, _ net.Conn) error {
				if err := c.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				go func() {
					time.Sleep(20 * time.Millisecond)
					_ = c.SetReadDeadline(time.Now())
				}()
				_, err := c.Read(make([]byte, 4))
				return err
			},
			timeout: true,
		},
		{
			name: "an armed deadline moved on does not fail a later read",
			run: func(t *testing.T, c, peer net.Conn) error {
				armThenMoveOn(t, c, peer)
				if _, err := peer.Write([]byte("two")); err != nil {
					t.Fatal(err)
				}
				_, err := io.ReadFull(c, make([]byte, 3))
				return err
			},
		},
		{
			name: "a raw read through SyscallConn after an armed deadline moved on",
			run: func(t *testing.T, c, peer net.Conn) error {
				armThenMoveOn(t, c, peer)
				raw, err := c.(syscall.Conn).SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				called := false
				err = raw.Read(func(uintptr) bool { called = true; return true })
				if !called {
					t.Error("the raw read did not get to look")
				}
				return err
			},
		},
		{
			name: "a deadline centuries away",
			run: func(t *testing.T, c, peer net.Conn) error {
				if err := c.SetReadDeadline(time.Unix(1<<62, 0)); err != nil {
					t.Fatal(err)
				}
				readLater(t, c, peer, 5*time.Millisecond, "data")
				return nil
			},
		},
		{
			name: "a cleared deadline no longer fails reads",
			run: func(t *testing.T, c, peer net.Conn) error {
				if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Read(make([]byte, 4)); !isTimeout(err) {
					t.Fatalf("read past the deadline: %v, want a timeout", err)
				}
				if err := c.SetReadDeadline(time.Time{}); err != nil {
					t.Fatal(err)
				}
				readLater(t, c, peer, 5*time.Millisecond, "data")
				return nil
			},
		},
	}
	for _, tt := range tests {
		eachEnd(t, tt.name, func(t *testing.T, c, peer net.Conn) {
			err := tt.run(t, c, peer)
			switch {
			case tt.timeout && !isTimeout(err):
				t.Errorf("err = %v, want a net.Error that times out and is os.ErrDeadlineExceeded", err)
			case !tt.timeout && err != nil:
				t.Errorf("err = %v, want none", err)
			}
		})
	}
}

// armThenMoveOn has a read wait under a deadline (arming it), then moves
// the deadline an hour on and lets the armed one pass.
func armThenMoveOn(t *testing.T, c, peer net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	readLater(t, c, peer, 5*time.Millisecond, "one")
	if err := c.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
}

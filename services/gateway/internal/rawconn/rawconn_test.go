package rawconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection, each wrapped: the
// server's by Listener, the client's by wrap.
func pair(t *testing.T, wrap func(net.Conn) net.Conn) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := Listener{Listener: ln}.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	var d net.Dialer
	client, err = d.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client = wrap(client)
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	for _, c := range []net.Conn{client, server} {
		if _, ok := c.(*Conn); !ok {
			t.Fatalf("%T is not wrapped", c)
		}
		t.Cleanup(func() { c.Close() })
	}
	return client, server
}

func TestRoundTrip(t *testing.T) {
	client, server := pair(t, WrapClient)
	// Larger than both socket buffers: the writer waits in the poller
	// while the reader is slow, and every byte arrives in order.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	done := make(chan error, 1)
	go func() {
		n, err := client.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the writer fill the buffers first
	got := make([]byte, 0, len(want))
	buf := make([]byte, 64<<10)
	for len(got) < len(want) {
		n, err := server.Read(buf)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
	if n, err := server.Read(nil); n != 0 || err != nil {
		t.Errorf("empty read = %d, %v; want 0, nil", n, err)
	}
}

func TestErrorsAsNetTCPConn(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, client, server net.Conn)
		op    func(c net.Conn) error
		check func(err error) bool
		want  string
	}{
		{
			name:  "peer closed: EOF",
			setup: func(t *testing.T, _, server net.Conn) { server.Close() },
			op:    func(c net.Conn) error { _, err := c.Read(make([]byte, 8)); return err },
			check: func(err error) bool { return err == io.EOF },
			want:  "io.EOF itself",
		},
		{
			name: "read deadline passed",
			setup: func(t *testing.T, client, _ net.Conn) {
				if err := client.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			},
			op: func(c net.Conn) error { _, err := c.Read(make([]byte, 8)); return err },
			check: func(err error) bool {
				var ne net.Error
				return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
			},
			want: "a net.Error that times out and is os.ErrDeadlineExceeded",
		},
		{
			name:  "closed here: read",
			setup: func(t *testing.T, client, _ net.Conn) { client.Close() },
			op:    func(c net.Conn) error { _, err := c.Read(make([]byte, 8)); return err },
			check: func(err error) bool { return errors.Is(err, net.ErrClosed) },
			want:  "net.ErrClosed",
		},
		{
			name:  "closed here: write",
			setup: func(t *testing.T, client, _ net.Conn) { client.Close() },
			op:    func(c net.Conn) error { _, err := c.Write([]byte("x")); return err },
			check: func(err error) bool { return errors.Is(err, net.ErrClosed) },
			want:  "net.ErrClosed",
		},
		{
			name: "peer reset: write",
			setup: func(t *testing.T, _, server net.Conn) {
				// Linger 0: the close sends a reset.
				if err := server.(*Conn).SetLinger(0); err != nil {
					t.Fatal(err)
				}
				server.Close()
				time.Sleep(10 * time.Millisecond)
			},
			op: func(c net.Conn) error {
				for range 100 { // the first write may be taken before the reset is seen
					if _, err := c.Write([]byte("x")); err != nil {
						return err
					}
					time.Sleep(time.Millisecond)
				}
				return nil
			},
			check: func(err error) bool {
				var oe *net.OpError
				return errors.As(err, &oe) && oe.Op == "write" &&
					(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
			},
			want: "a write *net.OpError carrying ECONNRESET or EPIPE",
		},
	}
	for _, tt := range tests {
		eachEnd(t, tt.name, func(t *testing.T, client, server net.Conn) {
			tt.setup(t, client, server)
			if err := tt.op(client); !tt.check(err) {
				t.Errorf("err = %#v (%v), want %s", err, err, tt.want)
			}
		})
	}
}

// eachEnd runs f as subtest name/<end> on a connected pair (c, the end
// under test, and its peer) for each kind of end in turn: dialled and
// wrapped by Wrap, by WrapClient (which holds requests back), and
// accepted.
func eachEnd(t *testing.T, name string, f func(t *testing.T, c, peer net.Conn)) {
	for _, end := range []string{"Wrap", "WrapClient", "accepted"} {
		t.Run(name+"/"+end, func(t *testing.T) {
			wrap := Wrap
			if end == "WrapClient" {
				wrap = WrapClient
			}
			c, peer := pair(t, wrap)
			if end == "accepted" {
				c, peer = peer, c
			}
			f(t, c, peer)
		})
	}
}

func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Errorf("Wrap(net.Pipe end) = %T, want it unchanged", got)
	}
}

// TestWrapDialWritesWhileReading checks what a Redis client's Pub/Sub
// connection needs (Sentinel's: it pings while its reader waits): a write
// while a read waits goes out at once, so WrapDial must not hold writes
// back as WrapClient does.
func TestWrapDialWritesWhileReading(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var d net.Dialer
	client, err := WrapDial(d.DialContext)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	read := make(chan string, 1)
	go func() {
		buf := make([]byte, 8)
		n, _ := client.Read(buf) // waits: nothing is sent before the ping
		read <- string(buf[:n])
	}()
	time.Sleep(10 * time.Millisecond) // the reader is waiting
	if _, err := client.Write([]byte("PING")); err != nil {
		t.Fatal(err)
	}
	if err := server.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil { // a held ping fails, not hangs
		t.Fatal(err)
	}
	if got := readFor(t, server, 4); got != "PING" {
		t.Fatalf("peer got %q while the client read, want PING", got)
	}
	if _, err := server.Write([]byte("PONG")); err != nil {
		t.Fatal(err)
	}
	if got := <-read; got != "PONG" {
		t.Errorf("client read %q, want PONG", got)
	}
}

func TestWrapDialPassesErrorsOn(t *testing.T) {
	want := errors.New("no route")
	dial := WrapDial(func(context.Context, string, string) (net.Conn, error) { return nil, want })
	if c, err := dial(t.Context(), "tcp", "x:1"); c != nil || !errors.Is(err, want) {
		t.Errorf("dial = %v, %v; want nil, %v", c, err, want)
	}
}

// TestKeepsThePollerWait checks that a read with nothing to read waits
// for the data (in the runtime's poller) rather than failing with EAGAIN.
func TestKeepsThePollerWait(t *testing.T) {
	client, server := pair(t, Wrap)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = server.Write([]byte("late"))
	}()
	buf := make([]byte, 8)
	n, err := client.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Errorf("read = %q, %v; want \"late\"", buf[:n], err)
	}
}

// TestClientHoldsARequestUntilItsAnswerIsRead checks WrapClient's
// exchange: the first write after a read goes out with the next read,
// anything written after it at once, in order.
func TestClientHoldsARequestUntilItsAnswerIsRead(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		// sentEarly is what the peer receives before the client reads.
		sentEarly string
	}{
		{name: "one request: held until the read", writes: []string{"GET / HTTP/1.1\r\n\r\n"}, sentEarly: ""},
		{name: "head then body: both at the second write", writes: []string{"head;", "body"}, sentEarly: "head;body"},
		{name: "streamed: nothing held after the second write", writes: []string{"a", "b", "c"}, sentEarly: "abc"},
		{name: "larger than maxHeld: at once", writes: []string{strings.Repeat("x", maxHeld+1)}, sentEarly: strings.Repeat("x", maxHeld+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := pair(t, WrapClient)
			var all string
			for _, w := range tt.writes {
				if n, err := client.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write = %d, %v", n, err)
				}
				all += w
			}
			if got := readFor(t, server, len(tt.sentEarly)); got != tt.sentEarly {
				t.Fatalf("peer got %.40q before the read, want %.40q", got, tt.sentEarly)
			}
			if tt.sentEarly == "" {
				// Nothing arrives while the client does not read.
				if err := server.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				if n, err := server.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("peer read %d bytes (%v) of a held request", n, err)
				}
				if err := server.SetReadDeadline(time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			exchange(t, client, server, all[len(tt.sentEarly):], "answer")
		})
	}
}

// TestClientHeldRequestLargerThanTheSocketBuffers checks a held request
// the socket cannot take in one write: the read finishes writing it,
// waiting for room, before it waits for the answer.
func TestClientHeldRequestLargerThanTheSocketBuffers(t *testing.T) {
	client, server := pair(t, WrapClient)
	if err := client.(*Conn).SetWriteBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	if err := server.(*Conn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	request := bytes.Repeat([]byte("r"), maxHeld)
	if _, err := client.Write(request); err != nil {
		t.Fatal(err)
	}
	exchange(t, client, server, string(request), "ok")
}

// TestClientHeldRequestToAResetPeer checks that a held request the peer
// refuses fails the read that sends it, with the reset.
func TestClientHeldRequestToAResetPeer(t *testing.T) {
	client, server := pair(t, WrapClient)
	if err := server.(*Conn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	server.Close()
	time.Sleep(10 * time.Millisecond) // the reset reaches the client
	if _, err := client.Write([]byte("request")); err != nil {
		t.Fatalf("held write: %v", err)
	}
	_, err := client.Read(make([]byte, 8))
	var oe *net.OpError
	if !errors.As(err, &oe) || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		t.Errorf("read = %#v (%v), want a *net.OpError carrying ECONNRESET or EPIPE", err, err)
	}
}

// exchange reads from client, which sends what it holds, while the peer
// (server) reads the request bytes still to come, checks them against
// want and answers: the client must read answer.
func exchange(t *testing.T, client, server net.Conn, want, answer string) {
	t.Helper()
	answered := make(chan error, 1)
	go func() {
		if got := readFor(t, server, len(want)); got != want {
			answered <- fmt.Errorf("peer got %.40q (%d bytes), want %.40q (%d)", got, len(got), want, len(want))
			return
		}
		_, err := server.Write([]byte(answer))
		answered <- err
	}()
	buf := make([]byte, len(answer)+8)
	n, err := client.Read(buf)
	if err != nil || string(buf[:n]) != answer {
		t.Fatalf("client read = %q, %v; want %q", buf[:n], err, answer)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
}

// readFor reads exactly n bytes from c.
func readFor(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Errorf("read %d bytes: %v", n, err)
	}
	return string(buf)
}

// TestExchangeAllocatesNothing: a request written and its answer read
// cost no allocation on either end (the poller callbacks are bound once
// per connection, not made per call).
func TestExchangeAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{{"Wrap", Wrap}, {"WrapClient", WrapClient}} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := pair(t, tc.wrap)
			go func() { // echo, four bytes at a time
				buf := make([]byte, 4)
				for {
					if _, err := io.ReadFull(server, buf); err != nil {
						return
					}
					if _, err := server.Write(buf); err != nil {
						return
					}
				}
			}()
			req, answer := []byte("ping"), make([]byte, 4)
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := client.Write(req); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(client, answer); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per exchange, want 0", allocs)
			}
		})
	}
}

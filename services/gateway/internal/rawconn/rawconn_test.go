package rawconn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection, each wrapped: the
// server's by Listener, the client's by WrapDial.
func pair(t *testing.T) (client, server net.Conn) {
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
	client, err = WrapDial(d.DialContext)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
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
	client, server := pair(t)
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
		t.Run(tt.name, func(t *testing.T) {
			client, server := pair(t)
			tt.setup(t, client, server)
			if err := tt.op(client); !tt.check(err) {
				t.Errorf("err = %#v (%v), want %s", err, err, tt.want)
			}
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
	client, server := pair(t)
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

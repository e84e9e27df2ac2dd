package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestPick: ports come from below the kernel's ephemeral range, so no
// outgoing connection takes one between the pick and the child's bind,
// and each is free to bind on loopback.
func TestPick(t *testing.T) {
	t.Parallel()
	for range 20 {
		port, err := Pick()
		if err != nil {
			t.Fatal(err)
		}
		if port < low || port >= high {
			t.Fatalf("port %d outside %d-%d", port, low, high-1)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("bind picked port %d: %v", port, err)
		}
		l.Close()
	}
}

package testkit

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeAddr(t *testing.T) {
	t.Parallel()
	addr := FreeAddr(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q (%v), want 127.0.0.1:port", addr, err)
	}
	// Below the kernel's ephemeral range: no outgoing connection takes it.
	if p, _ := strconv.Atoi(port); p < 20000 || p >= 32768 {
		t.Errorf("port %d outside 20000-32767", p)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the free address cannot be bound: %v", err)
	}
	l.Close()
}

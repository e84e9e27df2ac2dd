package testkit

import (
	"net"
	"strconv"
	"testing"

	"github.com/acube/platform/libs/freeport"
)

// FreePort returns a loopback TCP port that nothing listens on and that
// no outgoing connection will take (libs/freeport), for a server the test
// must tell its port before it binds. It fails the test when none is
// found.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freeport.Pick()
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	return port
}

// FreeAddr is FreePort as a host:port on 127.0.0.1, e.g. for a
// BOOKING_ADDR.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

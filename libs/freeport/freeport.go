// Package freeport picks loopback ports for servers that tests and local
// tools start as separate processes, which must be told their port before
// they bind it.
//
// Asking the kernel for port 0 returns a port from the ephemeral range,
// the same range outgoing connections take their source ports from: under
// a busy test run a connection to PostgreSQL or NATS can grab the port
// between the pick and the child's bind. Pick draws from below that range
// instead (20000-32767; Linux's ephemeral range starts at 32768), at
// random, and checks the port is free, so only another pick can collide.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

const (
	low  = 20000
	high = 32768 // exclusive: the kernel's ephemeral range starts here
)

// Pick returns a loopback TCP port that was free a moment ago and that no
// outgoing connection will take.
func Pick() (int, error) {
	for range 200 {
		port := low + rand.IntN(high-low)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use; try another
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free loopback port in %d-%d after 200 tries", low, high-1)
}

package stack

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATS is an in-process NATS server with JetStream, as the launcher runs
// it for `make run` and the tests: on loopback, storing on disk, so it
// can be shut down, as an outage would, and started again on the same
// port and store.
type NATS struct {
	opts server.Options
	srv  *server.Server
}

// StartNATS runs a JetStream server on loopback port (0: a free one, from
// FreePort) with its store in dir, created when missing.
func StartNATS(dir string, port int) (*NATS, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create nats store: %w", err)
	}
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, fmt.Errorf("nats port: %w", err)
		}
	}
	n := &NATS{opts: server.Options{ServerName: "acube-local", Host: "127.0.0.1", Port: port,
		JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}}
	if err := n.Restart(); err != nil {
		return nil, err
	}
	return n, nil
}

// URL is the client URL.
func (n *NATS) URL() string { return "nats://" + Addr(n.opts.Port) }

// Shutdown stops the server; clients see connection errors until Restart.
func (n *NATS) Shutdown() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Restart starts the server again on the same port and store.
func (n *NATS) Restart() error {
	opts := n.opts // the server keeps what it is given; each start gets a copy
	srv, err := server.NewServer(&opts)
	if err != nil {
		return fmt.Errorf("configure in-process nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("in-process nats not ready on %s (is the port free?)", Addr(n.opts.Port))
	}
	n.srv = srv
	return nil
}

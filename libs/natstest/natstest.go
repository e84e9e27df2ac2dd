// Package natstest runs a real NATS server with JetStream inside the test
// process, on a port of its own, so each test package has its own streams.
// Options give it a configuration (accounts and permissions, as
// production's) and TLS.
package natstest

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/acube/platform/libs/testkit"
)

// Server is an embedded NATS server that a test can stop and start again on
// the same address, keeping its JetStream store.
type Server struct {
	t      testing.TB
	host   string
	port   int
	store  string
	config string
	tls    *certs
	srv    *server.Server
	errs   *errorLog
}

// Option changes how Start runs the server.
type Option func(*Server)

// WithConfig gives the server NATS configuration text, e.g. the accounts
// and permissions of stream.ServerConfig; the listen address, JetStream
// and the store stay the test's own. Variables ($NAME) must be defined in
// the text or the environment.
func WithConfig(text string) Option {
	return func(s *Server) { s.config = text }
}

// WithTLS makes the server require TLS with a certificate for 127.0.0.1
// and localhost, signed by an authority made for the test (CAFile).
func WithTLS() Option {
	return func(s *Server) { s.tls = newCerts(s.t) }
}

// Start runs a JetStream-enabled server on a free loopback port with its
// store in a temporary directory; it is shut down when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a NATS server; skipped under -short")
	}
	s := &Server{t: t, host: "127.0.0.1", port: testkit.FreePort(t), store: t.TempDir(), errs: &errorLog{}}
	for _, o := range opts {
		o(s)
	}
	s.Restart()
	t.Cleanup(s.Shutdown)
	return s
}

// URL is the client URL of the server: tls:// when it requires TLS.
func (s *Server) URL() string {
	scheme := "nats://"
	if s.tls != nil {
		scheme = "tls://"
	}
	return scheme + net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// CAFile is the PEM file of the authority that signed the server's
// certificate; "" without WithTLS.
func (s *Server) CAFile() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.caFile
}

// Shutdown stops the server, as an outage would.
func (s *Server) Shutdown() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart starts the server again on the same port and store.
func (s *Server) Restart() {
	s.t.Helper()
	opts := s.options()
	srv, err := server.NewServer(opts)
	if err != nil {
		s.t.Fatalf("natstest: new server: %v", err)
	}
	srv.SetLogger(s.errs, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatalf("natstest: server not ready on %s", s.URL())
	}
	s.srv = srv
}

// Errors returns the errors the server has logged, such as "Publish
// Violation - Subject ..." for a refused publish: a client that flushed
// its connection after a publish finds the server's verdict here.
func (s *Server) Errors() []string {
	s.errs.mu.Lock()
	defer s.errs.mu.Unlock()
	return append([]string(nil), s.errs.lines...)
}

// errorLog is a server.Logger that keeps the error lines only.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Errorf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}
func (l *errorLog) Noticef(string, ...any) {}
func (l *errorLog) Warnf(string, ...any)   {}
func (l *errorLog) Fatalf(string, ...any)  {}
func (l *errorLog) Debugf(string, ...any)  {}
func (l *errorLog) Tracef(string, ...any)  {}

// Reload applies new configuration text to the running server, as
// `nats-server --signal reload` does in production (a rotated key, a
// changed permission): connections it no longer allows are closed, the
// others stay.
func (s *Server) Reload(text string) {
	s.t.Helper()
	s.config = text
	if err := s.srv.ReloadOptions(s.options()); err != nil {
		s.t.Fatalf("natstest: reload: %v", err)
	}
}

// Refusals counts the connections the server closed because they failed
// to authenticate.
func (s *Server) Refusals() int {
	s.t.Helper()
	cz, err := s.srv.Connz(&server.ConnzOptions{State: server.ConnClosed, Limit: 1 << 16})
	if err != nil {
		s.t.Fatalf("natstest: closed connections: %v", err)
	}
	n := 0
	for _, c := range cz.Conns {
		if c.Reason == server.AuthenticationViolation.String() {
			n++
		}
	}
	return n
}

// options builds the server's options afresh for each start: accounts
// parsed from the configuration belong to one server.
func (s *Server) options() *server.Options {
	s.t.Helper()
	opts := &server.Options{}
	if s.config != "" {
		if err := opts.ProcessConfigString(s.config); err != nil {
			s.t.Fatalf("natstest: configuration: %v", err)
		}
	}
	opts.Host, opts.Port = s.host, s.port
	opts.JetStream, opts.StoreDir = true, s.store
	opts.NoLog, opts.NoSigs = true, true
	if s.tls != nil {
		cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: s.tls.certFile, KeyFile: s.tls.keyFile})
		if err != nil {
			s.t.Fatalf("natstest: tls: %v", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, cfg, 2
	}
	return opts
}

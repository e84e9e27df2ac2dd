package natstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/testkit"
)

// connect opens a client connection to s that does not reconnect, closed
// when the test ends.
func connect(t *testing.T, s *Server, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	nc, err := nats.Connect(s.URL(), append([]nats.Option{nats.NoReconnect(), nats.Timeout(5 * time.Second)}, opts...)...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// TestRestartKeepsTheStore: an outage (Shutdown) cuts clients off, and
// the server comes back on the same address with its JetStream streams
// and messages, as a restarted pod with its volume does.
func TestRestartKeepsTheStore(t *testing.T) {
	t.Parallel()
	s := Start(t)
	if s.CAFile() != "" || !strings.HasPrefix(s.URL(), "nats://127.0.0.1:") {
		t.Fatalf("URL %s CA %q, want plain nats:// on loopback", s.URL(), s.CAFile())
	}
	nc, err := connect(t, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "kept.one", []byte("1")); err != nil {
		t.Fatal(err)
	}

	s.Shutdown()
	if err := nc.Flush(); err == nil {
		t.Error("a client still flushes to a shut-down server")
	}
	if _, err := connect(t, s); err == nil {
		t.Error("connected to a shut-down server")
	}
	s.Shutdown() // a second stop is harmless, as Cleanup's is

	s.Restart()
	nc2, err := connect(t, s)
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	js2, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js2.Stream(ctx, "KEPT")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Errorf("stream after restart holds %+v (%v), want the one message", info, err)
	}
}

// TestWithTLS: the server takes TLS only, with a certificate its CAFile
// vouches for.
func TestWithTLS(t *testing.T) {
	t.Parallel()
	s := Start(t, WithTLS())
	if !strings.HasPrefix(s.URL(), "tls://") || s.CAFile() == "" {
		t.Fatalf("URL %s CA %q, want tls:// and a CA file", s.URL(), s.CAFile())
	}
	if _, err := connect(t, s); err == nil {
		t.Error("connected without trusting the test's authority")
	}
	nc, err := connect(t, s, nats.RootCAs(s.CAFile()))
	if err != nil {
		t.Fatalf("connect with the CA: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("connection is not TLS")
	}
	if err := nc.Publish("x", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

const usersConfig = `authorization {
  users = [
    {user: writer, password: %s, permissions: {publish: "allowed.>", subscribe: "_INBOX.>"}}
  ]
}`

// TestConfigRefusalsErrorsAndReload: WithConfig applies accounts and
// permissions; Refusals counts bad logins; Errors shows the server's
// verdict on a refused publish; Reload rotates a password and closes the
// connections it no longer allows.
func TestConfigRefusalsErrorsAndReload(t *testing.T) {
	t.Parallel()
	s := Start(t, WithConfig(strings.Replace(usersConfig, "%s", "first", 1)))

	if _, err := connect(t, s, nats.UserInfo("writer", "wrong")); err == nil {
		t.Fatal("connected with a wrong password")
	}
	// The client reads the server's -ERR before the server files the
	// closed connection, so the count is awaited, then checked exact.
	testkit.Eventually(t, "the bad login counted as a refusal", func() bool { return s.Refusals() >= 1 })
	if got := s.Refusals(); got != 1 {
		t.Errorf("refusals = %d, want 1", got)
	}

	closed := make(chan struct{})
	nc, err := connect(t, s, nats.UserInfo("writer", "first"), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("forbidden.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("allowed.x", nil); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The violation is logged before the server answers the flush's PING.
	var violation bool
	for _, line := range s.Errors() {
		violation = violation || (strings.Contains(line, "Publish Violation") && strings.Contains(line, "forbidden.x"))
	}
	if !violation {
		t.Errorf("errors %q, want the publish violation on forbidden.x", s.Errors())
	}

	s.Reload(strings.Replace(usersConfig, "%s", "second", 1))
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection with the rotated-out password is still open after the reload")
	}
	if _, err := connect(t, s, nats.UserInfo("writer", "second")); err != nil {
		t.Errorf("connect with the new password: %v", err)
	}
}

// Package streamtest runs a NATS server configured as production's: one
// NKey user per identity of stream.Identities, with the permissions the
// table derives (stream.ServerConfig), and each identity's seed in a file,
// so a test runs code, or a whole service, under the identity it has in
// production.
package streamtest

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
)

// Server is a natstest server with every identity configured.
type Server struct {
	*natstest.Server
	seeds map[string]string
}

// Start generates a key pair per identity, writes the seeds to files and
// starts the server with the identities' users (and opts, e.g.
// natstest.WithTLS).
func Start(t testing.TB, opts ...natstest.Option) *Server {
	t.Helper()
	dir := t.TempDir()
	keys, seeds := map[string]string{}, map[string]string{}
	for _, svc := range stream.Services() {
		k, err := stream.NewNKey()
		if err != nil {
			t.Fatal(err)
		}
		seeds[svc] = filepath.Join(dir, svc+".nk")
		if err := k.WriteSeed(seeds[svc]); err != nil {
			t.Fatal(err)
		}
		keys[svc] = k.Public
	}
	conf, err := stream.ServerConfig(keys)
	if err != nil {
		t.Fatal(err)
	}
	return &Server{Server: natstest.Start(t, append(opts, natstest.WithConfig(conf))...), seeds: seeds}
}

// Seed is the file holding service's seed, for NATS_NKEY_FILE.
func (s *Server) Seed(service string) string {
	return s.seeds[service]
}

// Connect connects as service with stream.Connect, as its main does; the
// connection is closed when the test ends.
func (s *Server) Connect(t testing.TB, service string, log *slog.Logger) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js, err := stream.Connect(s.URL(), service, log, stream.NKeyFile(s.Seed(service)), stream.CAFile(s.CAFile()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, js
}

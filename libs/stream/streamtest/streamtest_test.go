package streamtest

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
)

// TestIdentitiesConnectWithTheirPermissions: every identity of
// stream.Identities connects with its own seed over TLS, as in
// production, and the server applies that identity's permissions: what
// it publishes goes through, a subject it has no right to is refused.
func TestIdentitiesConnectWithTheirPermissions(t *testing.T) {
	t.Parallel()
	srv := Start(t, natstest.WithTLS())
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, id := range stream.Identities() {
		t.Run(id.Service, func(t *testing.T) {
			if _, err := os.Stat(srv.Seed(id.Service)); err != nil {
				t.Fatalf("seed of %s: %v", id.Service, err)
			}
			nc, _ := srv.Connect(t, id.Service, log)
			if !nc.IsConnected() || !nc.TLSRequired() {
				t.Fatalf("%s: connected %v, TLS %v", id.Service, nc.IsConnected(), nc.TLSRequired())
			}
			var subjects []string
			if len(id.Publishes) > 0 {
				subjects = append(subjects, strings.Replace(id.Publishes[0], ">", "streamtest", 1))
			}
			forbidden := "streamtest-forbidden." + id.Service
			for _, subject := range append(subjects, forbidden) {
				if err := nc.Publish(subject, nil); err != nil {
					t.Fatal(err)
				}
			}
			// The server logs a violation before it answers the flush.
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			var refused []string
			for _, line := range srv.Errors() {
				for _, subject := range append(subjects, forbidden) {
					if strings.Contains(line, "Publish Violation") && strings.Contains(line, `"`+subject+`"`) {
						refused = append(refused, line)
					}
				}
			}
			switch {
			case id.Everything && len(refused) > 0:
				t.Errorf("%s may do everything, but the server refused %q", id.Service, refused)
			case !id.Everything && (len(refused) != 1 || !strings.Contains(refused[0], forbidden)):
				t.Errorf("%s: refusals %q, want only %s refused", id.Service, refused, forbidden)
			}
		})
	}
}

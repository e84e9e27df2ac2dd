package delivery

import (
	"testing"

	"github.com/acube/platform/libs/stream"
)

// TestConsumersHaveNATSPermissions holds the mailer's durables to its NATS
// identity (libs/stream.Identities): a durable missing there is refused
// by the server in production, and only a run under identities shows it.
func TestConsumersHaveNATSPermissions(t *testing.T) {
	var granted []stream.Durable
	for _, a := range stream.Identities() {
		if a.Service == "mailer" {
			granted = a.Durables
		}
	}
	for _, c := range Consumers() {
		found := false
		for _, d := range granted {
			if d.Stream != c.Stream || d.Name != c.Durable {
				continue
			}
			found = true
			if d.Filter != "" && (len(c.Subjects) != 1 || c.Subjects[0] != d.Filter) {
				t.Errorf("durable %s on %s: identity allows only filter %q, the consumer uses %v", c.Durable, c.Stream, d.Filter, c.Subjects)
			}
		}
		if !found {
			t.Errorf("durable %s on %s is not in the mailer's NATS identity (libs/stream/access.go)", c.Durable, c.Stream)
		}
	}
}

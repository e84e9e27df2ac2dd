package email_test

import (
	"slices"
	"testing"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/mailer/internal/email"
)

// TestComposePublisherSamples composes an email from every sample the
// publishers provide (booking, admin, exporter; libs/events) of each type
// the mailer reads, so a publisher that changes what it sends breaks this
// test, not the emails; and every type the mailer subscribes to has one.
func TestComposePublisherSamples(t *testing.T) {
	samples, err := events.Samples()
	if err != nil {
		t.Fatal(err)
	}
	c := composer(t)
	seen := map[string]bool{}
	for _, ev := range samples {
		if !slices.Contains(email.Types(), ev.Type) {
			continue
		}
		seen[ev.Type] = true
		m, err := c.Compose(ev)
		if err != nil {
			t.Errorf("sample %s from %s: %v", ev.Type, ev.Source, err)
			continue
		}
		if m.To.Address == "" || m.Subject == "" || m.Text == "" {
			t.Errorf("sample %s from %s: incomplete email %+v", ev.Type, ev.Source, m.Summary)
		}
	}
	for _, typ := range email.Types() {
		if !seen[typ] {
			t.Errorf("no publisher provides a sample of %s", typ)
		}
	}
}

package email_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/templates"
)

// TestComposeRequiresIDs: an event of each type the mailer answers, from
// the publishers' samples (libs/events), is refused as invalid, naming the
// field, when an id it needs is missing or its data is not an object;
// the sample itself composes.
func TestComposeRequiresIDs(t *testing.T) {
	t.Parallel()
	samples, err := events.Samples()
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]events.Event{}
	for _, ev := range samples {
		if _, ok := byType[ev.Type]; !ok {
			byType[ev.Type] = ev
		}
	}
	c := composer(t)
	tests := []struct {
		typ      string
		required []string
	}{
		{typ: events.TypeSessionBooked, required: []string{"session_id"}},
		{typ: events.TypeSessionStatusChanged, required: []string{"session_id", "status"}},
		{typ: events.TypeEventRegistered, required: []string{"registration_id", "event_id"}},
		{typ: events.TypeEventWaitlisted, required: []string{"registration_id", "event_id"}},
		{typ: events.TypeEventPromoted, required: []string{"registration_id", "event_id"}},
		{typ: events.TypeRegistrationCancelled, required: []string{"registration_id", "event_id"}},
		{typ: events.TypeEventAlreadyRegistered, required: []string{"registration_id", "event_id"}},
		{typ: events.TypeEventRescheduled, required: []string{"registration_id", "event_id"}},
		{typ: events.TypeVolunteerApplied, required: []string{"application_id"}},
		{typ: events.TypeContactReceived, required: []string{"contact_id"}},
		{typ: events.TypeAccountCreated, required: []string{"account_id"}},
		{typ: events.TypeAccountInvited, required: []string{"account_id", "accept_url"}},
		{typ: events.TypeJobCompleted, required: []string{"job_id"}},
		{typ: events.TypeExportCompleted, required: []string{"export_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			ev, ok := byType[tt.typ]
			if !ok {
				t.Fatalf("no sample of %s", tt.typ)
			}
			if _, err := c.Compose(ev); err != nil {
				t.Fatalf("the sample: %v", err)
			}
			for _, field := range tt.required {
				_, err := c.Compose(withData(t, ev, map[string]any{field: nil}))
				if !errors.Is(err, email.ErrInvalid) || !strings.Contains(err.Error(), field) {
					t.Errorf("without %s: %v, want ErrInvalid naming it", field, err)
				}
			}
			bad := ev
			bad.Data = []byte(`["not", "an", "object"]`)
			if _, err := c.Compose(bad); !errors.Is(err, email.ErrInvalid) {
				t.Errorf("data that is not an object: %v, want ErrInvalid", err)
			}
		})
	}
}

// TestComposeDefaults: optional fields an older or terser publisher
// leaves out are filled with words that read well, not left blank.
func TestComposeDefaults(t *testing.T) {
	t.Parallel()
	samples, err := events.Samples()
	if err != nil {
		t.Fatal(err)
	}
	c := composer(t)
	tests := []struct {
		typ, field, want string
	}{
		{typ: events.TypeSessionStatusChanged, field: "previous_status", want: "its previous status"},
		{typ: events.TypeAccountInvited, field: "expires_at", want: "24 hours after it was sent"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			for _, ev := range samples {
				if ev.Type != tt.typ {
					continue
				}
				m, err := c.Compose(withData(t, ev, map[string]any{tt.field: nil}))
				if err != nil {
					t.Fatalf("without %s: %v", tt.field, err)
				}
				if !strings.Contains(m.Text, tt.want) {
					t.Errorf("without %s the text says:\n%s\nwant %q", tt.field, m.Text, tt.want)
				}
				return
			}
			t.Fatalf("no sample of %s", tt.typ)
		})
	}
}

func TestNewComposerRefusesBadSettings(t *testing.T) {
	t.Parallel()
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	links := testLinks(t)
	tests := []struct {
		name, base, domain, want string
		nilLinks                 bool
	}{
		{name: "relative base", base: "/site", domain: "acube.local", want: "public base url"},
		{name: "not http", base: "ftp://acube.example", domain: "acube.local", want: "public base url"},
		{name: "no signer", base: "https://acube.example", domain: "acube.local", nilLinks: true, want: "signer"},
		{name: "no message-id domain", base: "https://acube.example", want: "domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := links
			if tt.nilLinks {
				l = nil
			}
			_, err := email.NewComposer(set, tt.base, l, time.UTC, tt.domain)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewComposer = %v, want an error about %s", err, tt.want)
			}
		})
	}
	// No time zone is UTC.
	c, err := email.NewComposer(set, "https://acube.example", links, nil, "acube.local")
	if err != nil || c == nil {
		t.Fatalf("NewComposer without a zone = %v", err)
	}
	if _, err := c.Compose(events.Event{ID: uuid.New(), Type: "booking.nothing.happened"}); !errors.Is(err, email.ErrUnknownType) {
		t.Errorf("Compose of an unknown type = %v, want ErrUnknownType", err)
	}
}

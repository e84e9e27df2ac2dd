package email_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/acube/platform/services/mailer/internal/email"
)

// TestAlreadyRegisteredEmail: the registrant whose address was submitted
// again hears that nothing changed, where they stand and how to manage it.
func TestAlreadyRegisteredEmail(t *testing.T) {
	c := composer(t)
	sample, _ := email.Sample("event_already_registered")
	tests := []struct {
		name    string
		patch   map[string]any
		want    []string // in the text part
		notWant []string
		wantErr error
	}{
		{name: "waitlisted", want: []string{"Hello Alice Example,", "You are already on its waitlist (position 2), so nothing has changed.",
			"Registration ID: 01958f2e-1a00-7000-8000-00000000001f", "https://acube.example/manage/registrations/01958f2e-1a00-7000-8000-00000000001f?token=",
			"the form told nobody"}},
		{name: "confirmed", patch: map[string]any{"status": "confirmed", "waitlist_position": nil},
			want: []string{"You are already registered, so nothing has changed."}, notWant: []string{"waitlist"}},
		{name: "a hostile name stays one plain line", patch: map[string]any{"name": "Eve\r\nBcc: x@evil.example"},
			want: []string{"Hello Eve Bcc: x@evil.example,"}},
		{name: "an old event's link is used when it gives no expiry", patch: map[string]any{"manage_expires": nil,
			"manage_url": "https://acube.example/api/registrations/x?token=old"},
			want: []string{"https://acube.example/api/registrations/x?token=old"}},
		{name: "an old event's link that is not http(s) is dropped", patch: map[string]any{"manage_expires": nil,
			"manage_url": "javascript:alert(1)"}, notWant: []string{"javascript:", "To view or cancel"}},
		{name: "a link in an event that gives the expiry is not used", patch: map[string]any{"manage_url": "https://evil.example/x"},
			want: []string{"https://acube.example/manage/registrations/01958f2e-1a00-7000-8000-00000000001f?token="}, notWant: []string{"evil.example"}},
		{name: "no registration", patch: map[string]any{"registration_id": nil}, wantErr: email.ErrInvalid},
		{name: "no recipient", patch: map[string]any{"email": nil}, wantErr: email.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := c.Compose(withData(t, sample, tt.patch))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if m.Subject != "You Are Already Registered: Mindfulness for Beginners" || m.Template != "event_already_registered" {
				t.Errorf("subject %q, template %q", m.Subject, m.Template)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, m.Text)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(m.Text, w) || strings.Contains(m.HTML, w) {
					t.Errorf("email contains %q:\n%s", w, m.Text)
				}
			}
		})
	}
}

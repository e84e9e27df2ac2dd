package email_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/templates"
)

// composerIn is a composer showing times in loc.
func composerIn(t *testing.T, loc *time.Location) *email.Composer {
	t.Helper()
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := email.NewComposer(set, "https://acube.example/", testLinks(t), loc, "acube.local")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEventRescheduledEmail(t *testing.T) {
	// The sample moves the event from 5 April 17:00–19:00 UTC in Room 2
	// to 12 April 18:00–20:00 UTC in Room 4; emails show MAIL_TIMEZONE.
	c := composerIn(t, time.FixedZone("CEST", 2*3600))
	sample, _ := email.Sample("event_rescheduled")
	const (
		oldTime = "Saturday, 5 April 2025, 19:00–21:00 CEST"
		newTime = "Saturday, 12 April 2025, 20:00–22:00 CEST"
	)
	sameTime := map[string]any{"starts_at": "2025-04-05T17:00:00Z", "ends_at": "2025-04-05T19:00:00Z"}
	tests := []struct {
		name        string
		patch       map[string]any
		wantSubject string
		want        []string // in the text part
		notWant     []string
		wantErr     error
	}{
		{name: "time and place", wantSubject: "New Time and Place: Mindfulness for Beginners",
			want: []string{"the time and place of Mindfulness for Beginners have changed", "When:  " + newTime,
				"(was: " + oldTime + ")", "Where: A-Cube Centre, Room 4", "(was: A-Cube Centre, Room 2)",
				"Your seat is kept", "https://acube.example/manage/registrations/01958f2e-1a00-7000-8000-00000000001f?token="}},
		{name: "time only", patch: map[string]any{"location": "A-Cube Centre, Room 2"}, wantSubject: "New Time: Mindfulness for Beginners",
			want:    []string{"the time of Mindfulness for Beginners has changed", "When:  " + newTime, "(was: " + oldTime + ")"},
			notWant: []string{"(was: A-Cube"}},
		{name: "only the end moved", patch: map[string]any{"location": "A-Cube Centre, Room 2",
			"starts_at": "2025-04-05T17:00:00Z", "ends_at": "2025-04-05T20:00:00Z"}, wantSubject: "New Time: Mindfulness for Beginners",
			want: []string{"When:  Saturday, 5 April 2025, 19:00–22:00 CEST", "(was: " + oldTime + ")"}},
		{name: "place only", patch: sameTime, wantSubject: "New Location: Mindfulness for Beginners",
			want:    []string{"the place of Mindfulness for Beginners has changed", "When:  " + oldTime, "(was: A-Cube Centre, Room 2)"},
			notWant: []string{"(was: Saturday"}},
		{name: "a place given for the first time", patch: map[string]any{"starts_at": "2025-04-05T17:00:00Z",
			"ends_at": "2025-04-05T19:00:00Z", "previous_location": ""}, wantSubject: "New Location: Mindfulness for Beginners",
			want: []string{"(was: to be announced)"}},
		{name: "nothing that shows: a neutral update", patch: map[string]any{"starts_at": "2025-04-05T17:00:00Z",
			"ends_at": "2025-04-05T19:00:00Z", "location": "A-Cube Centre, Room 2"}, wantSubject: "Event Update: Mindfulness for Beginners",
			notWant: []string{"(was:"}},
		{name: "waitlisted", patch: map[string]any{"status": "waitlisted", "waitlist_position": 4},
			want: []string{"You are still on the waitlist (position 4)"}, notWant: []string{"Your seat is kept"}},
		{name: "an unknown status says nothing of it", patch: map[string]any{"status": "cancelled\r\nBcc: x@evil.example"},
			notWant: []string{"Your seat is kept", "waitlist", "Bcc"}},
		{name: "no manage link", patch: map[string]any{"manage_expires": nil}, notWant: []string{"please cancel"}},
		{name: "no title", patch: map[string]any{"event_title": nil}, wantSubject: "New Time and Place: our event"},
		{name: "no registration id", patch: map[string]any{"registration_id": nil}, wantErr: email.ErrInvalid},
		{name: "no event id", patch: map[string]any{"event_id": nil}, wantErr: email.ErrInvalid},
		{name: "no email", patch: map[string]any{"email": nil}, wantErr: email.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNotice(t, c, withData(t, sample, tt.patch), "event_rescheduled", tt.wantSubject, tt.want, tt.notWant, tt.wantErr)
		})
	}
}

func TestRegistrationCancelledEmail(t *testing.T) {
	c := composerIn(t, time.FixedZone("CEST", 2*3600))
	self, _ := email.Sample("event_registration_cancelled")
	byAdmin, _ := email.Sample("event_registration_cancelled_by_admin")
	const when = "When:  Saturday, 5 April 2025, 19:00–21:00 CEST"
	tests := []struct {
		name         string
		ev           events.Event
		wantTemplate string
		wantSubject  string
		want         []string
		notWant      []string
		wantErr      error
	}{
		{name: "by the registrant", ev: self, wantTemplate: "event_registration_cancelled",
			wantSubject: "Registration Cancelled: Mindfulness for Beginners",
			want:        []string{"as you asked, your registration for Mindfulness for Beginners is cancelled", when, "Room 2"},
			notWant:     []string{"Reason", "our team"}},
		{name: "by the registrant, from the waitlist", ev: withData(t, self, map[string]any{"previous_status": "waitlisted"}),
			wantTemplate: "event_registration_cancelled", want: []string{"you have left the waitlist for Mindfulness for Beginners"}},
		{name: "a reason without an admin is not shown", ev: withData(t, self, map[string]any{"reason": "secret note"}),
			wantTemplate: "event_registration_cancelled", notWant: []string{"secret note"}},
		{name: "by an admin, with a reason", ev: byAdmin, wantTemplate: "event_registration_cancelled_by_admin",
			wantSubject: "Your Registration Was Cancelled: Mindfulness for Beginners",
			want: []string{"our team has cancelled your registration for Mindfulness for Beginners",
				"Reason: The session is limited to first-time participants", when},
			notWant: []string{"admin@acube.local", "as you asked"}},
		{name: "by an admin, from the waitlist", ev: withData(t, byAdmin, map[string]any{"previous_status": "waitlisted"}),
			wantTemplate: "event_registration_cancelled_by_admin", want: []string{"our team has cancelled your place on the waitlist"}},
		{name: "by an admin, without a reason", ev: withData(t, byAdmin, map[string]any{"reason": nil}),
			wantTemplate: "event_registration_cancelled_by_admin", notWant: []string{"Reason"}},
		{name: "a reason over lines stays on one", ev: withData(t, byAdmin, map[string]any{"reason": "Room closed.\r\nBcc: x@evil.example\n\nSorry"}),
			wantTemplate: "event_registration_cancelled_by_admin", want: []string{"Reason: Room closed. Bcc: x@evil.example Sorry"}},
		{name: "a hostile reason is escaped", ev: withData(t, byAdmin, map[string]any{"reason": `<a href="https://evil.example">click</a>`}),
			wantTemplate: "event_registration_cancelled_by_admin", want: []string{`Reason: <a href="https://evil.example">click</a>`}},
		{name: "who cancelled is missing", ev: withData(t, self, map[string]any{"cancelled_by": nil}), wantErr: email.ErrInvalid},
		{name: "who cancelled is blank", ev: withData(t, self, map[string]any{"cancelled_by": " \r\n"}), wantErr: email.ErrInvalid},
		{name: "no registration id", ev: withData(t, self, map[string]any{"registration_id": nil}), wantErr: email.ErrInvalid},
		{name: "a bad address", ev: withData(t, byAdmin, map[string]any{"email": "a@example.com\r\nRCPT TO:<b@example.com>"}), wantErr: email.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNotice(t, c, tt.ev, tt.wantTemplate, tt.wantSubject, tt.want, tt.notWant, tt.wantErr)
		})
	}
}

// checkNotice composes ev and checks the outcome; the HTML part must
// never carry markup from the event.
func checkNotice(t *testing.T, c *email.Composer, ev events.Event, template, subject string, want, notWant []string, wantErr error) {
	t.Helper()
	m, err := c.Compose(ev)
	if wantErr != nil || err != nil {
		if !errors.Is(err, wantErr) || wantErr == nil {
			t.Fatalf("Compose error = %v, want %v", err, wantErr)
		}
		return
	}
	if m.Template != template {
		t.Errorf("template %q, want %q", m.Template, template)
	}
	if subject != "" && m.Subject != subject {
		t.Errorf("subject %q, want %q", m.Subject, subject)
	}
	for _, w := range want {
		if !strings.Contains(m.Text, w) {
			t.Errorf("text lacks %q:\n%s", w, m.Text)
		}
	}
	for _, w := range notWant {
		if strings.Contains(m.Text, w) || strings.Contains(m.HTML, w) {
			t.Errorf("email contains %q:\n%s", w, m.Text)
		}
	}
	if strings.Contains(m.HTML, `<a href="https://evil.example"`) || strings.Contains(m.Text+m.HTML, "<no value>") {
		t.Errorf("html carries the event's markup or a missing value:\n%s", m.HTML)
	}
}

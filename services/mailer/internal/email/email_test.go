package email_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	netmail "net/mail"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
	"github.com/acube/platform/services/mailer/internal/templates"
)

func composer(t testing.TB) *email.Composer {
	t.Helper()
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := email.NewComposer(set, "https://acube.example/", testLinks(t), time.UTC, "acube.local")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withData returns ev with its data's fields overridden by patch.
func withData(t *testing.T, ev events.Event, patch map[string]any) events.Event {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	for k, v := range patch {
		if v == nil {
			delete(data, k)
		} else {
			data[k] = v
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	ev.Data = raw
	return ev
}

func TestEveryTemplateHasASampleAndBothParts(t *testing.T) {
	c := composer(t)
	set, _ := templates.Load()
	names := set.Names()
	if got := email.SampleNames(); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("samples %v, templates %v: every template needs a sample", got, names)
	}
	if len(names) != 15 {
		t.Errorf("%d templates, want the seed's six plus nine: %v", len(names), names)
	}
	for _, name := range names {
		ev, _ := email.Sample(name)
		m, err := c.Compose(ev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Template != name || m.Subject == "" || !strings.Contains(m.HTML, "<html") || m.Text == "" {
			t.Errorf("%s: template %q, subject %q, html %d bytes, text %d bytes", name, m.Template, m.Subject, len(m.HTML), len(m.Text))
		}
		if strings.Contains(m.Text, "<no value>") || strings.Contains(m.HTML, "<no value>") {
			t.Errorf("%s renders a missing value", name)
		}
	}
}

// hostile values for every human-facing field.
var hostile = []struct {
	name  string
	value string
}{
	{name: "html", value: `<script>alert("x")</script><img src=x onerror=alert(1)>`},
	{name: "header injection CRLF", value: "Eve\r\nBcc: victim@evil.example\r\nX-Injected: yes"},
	{name: "header injection LF", value: "Eve\nBcc: victim@evil.example"},
	{name: "quotes and angle brackets", value: `"Eve" <eve@evil.example>, mallory@evil.example`},
	{name: "unicode line separators", value: "Eve\u2028Bcc: victim@evil.example\u0085x"},
	{name: "very long", value: strings.Repeat("A", 5000)},
	{name: "non-ascii", value: "Zoë Ünïcødé 日本"},
}

func TestTemplatesWithHostileData(t *testing.T) {
	c := composer(t)
	from := &netmail.Address{Name: "A-Cube", Address: "no-reply@acube.local"}
	for _, name := range email.SampleNames() {
		for _, h := range hostile {
			t.Run(name+"/"+h.name, func(t *testing.T) {
				ev, _ := email.Sample(name)
				ev = withData(t, ev, map[string]any{
					"name": h.value, "admin_name": h.value, "event_title": h.value, "location": h.value, "kind": h.value,
					"entity": h.value, "action": h.value, "session_type": h.value, "status": h.value,
					"reason": h.value, "previous_location": h.value, "previous_status": h.value, "cancelled_by": h.value,
					"manage_url": "javascript:alert(1)", "job_url": `"><script>alert(1)</script>`,
				})
				m, err := c.Compose(ev)
				if err != nil {
					t.Fatalf("compose: %v", err)
				}
				if strings.ContainsAny(m.Subject, "\r\n") || strings.ContainsAny(m.To.Name, "\r\n") {
					t.Errorf("subject %q or name %q spans lines", m.Subject, m.To.Name)
				}
				for _, bad := range []string{"<script", "<img", "javascript:"} {
					if strings.Contains(m.HTML, bad) {
						t.Errorf("html contains %q", bad)
					}
				}
				if strings.Contains(m.Text, "javascript:") {
					t.Error("text contains a javascript: link")
				}

				var raw bytes.Buffer
				if err := sender.Format(&raw, m, from, time.Now()); err != nil {
					t.Fatal(err)
				}
				parsed, err := netmail.ReadMessage(&raw)
				if err != nil {
					t.Fatalf("read back: %v", err)
				}
				for _, injected := range []string{"Bcc", "X-Injected", "Cc"} {
					if v := parsed.Header.Get(injected); v != "" {
						t.Errorf("header %s injected: %q", injected, v)
					}
				}
				to, err := parsed.Header.AddressList("To")
				if err != nil || len(to) != 1 || to[0].Address != m.To.Address {
					t.Errorf("To header %q parses to %v (%v), want only %s", parsed.Header.Get("To"), to, err, m.To.Address)
				}
				subj, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
				if err != nil || subj != m.Subject {
					t.Errorf("subject reads back as %q (%v), want %q", subj, err, m.Subject)
				}
			})
		}
	}
}

func TestComposeRejectsBadEvents(t *testing.T) {
	c := composer(t)
	session, _ := email.Sample("session_confirmation")
	export, _ := email.Sample("export_ready")
	tests := []struct {
		name    string
		ev      events.Event
		wantErr error
	}{
		{name: "unknown type", ev: events.Event{ID: uuid.New(), Type: "booking.event.updated", Data: session.Data}, wantErr: email.ErrUnknownType},
		{name: "not json", ev: events.Event{ID: uuid.New(), Type: events.TypeSessionBooked, Data: []byte(`"x"`)}, wantErr: email.ErrInvalid},
		{name: "no email", ev: withData(t, session, map[string]any{"email": nil}), wantErr: email.ErrInvalid},
		{name: "email with a name", ev: withData(t, session, map[string]any{"email": "Eve <eve@example.com>"}), wantErr: email.ErrInvalid},
		{name: "email with CRLF", ev: withData(t, session, map[string]any{"email": "eve@example.com\r\nRCPT TO:<x@y.z>"}), wantErr: email.ErrInvalid},
		{name: "two emails", ev: withData(t, session, map[string]any{"email": "a@example.com, b@example.com"}), wantErr: email.ErrInvalid},
		{name: "no session id", ev: withData(t, session, map[string]any{"session_id": nil}), wantErr: email.ErrInvalid},
		{name: "export without link", ev: withData(t, export, map[string]any{"download_url": "ftp://x/y"}), wantErr: email.ErrInvalid},
		{name: "extra fields are fine", ev: withData(t, session, map[string]any{"phone": "123", "future": true})},
		{name: "no name is fine", ev: withData(t, session, map[string]any{"name": nil})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Compose(tt.ev)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Compose error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestLinks(t *testing.T) {
	c := composer(t)
	ev, _ := email.Sample("session_confirmation")
	tests := []struct {
		name, url, want string
	}{
		{name: "path joins the base", url: "/manage/abc?t=1", want: "https://acube.example/manage/abc?t=1"},
		{name: "absolute https kept", url: "https://other.example/x", want: "https://other.example/x"},
		{name: "javascript dropped", url: "javascript:alert(1)"},
		{name: "protocol-relative dropped", url: "//evil.example/x"},
		{name: "relative without slash dropped", url: "manage/abc"},
		{name: "quote dropped", url: `/x"><script>`},
		{name: "empty", url: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Links an event published before manage_expires existed
			// carried itself (rollout compatibility).
			m, err := c.Compose(withData(t, ev, map[string]any{"manage_expires": nil, "manage_url": tt.url}))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Contains(m.Text, "To view or cancel your booking")
			if tt.want == "" && got {
				t.Errorf("link %q was kept:\n%s", tt.url, m.Text)
			}
			if tt.want != "" && !strings.Contains(m.Text, "\n"+tt.want+"\n") {
				t.Errorf("text lacks %q:\n%s", tt.want, m.Text)
			}
		})
	}
}

// TestMintedManageLink: booking's events carry the record's id and the
// link's expiry, and the mailer mints the link booking's verifier (the
// same managelink secret) accepts, until the expiry and for that record.
// By default the link opens booking's page (/manage/…), not the JSON API.
func TestMintedManageLink(t *testing.T) {
	c := composer(t)
	tests := []struct {
		sample, kind, path string
	}{
		{"session_confirmation", managelink.KindSession, "/manage/sessions/01958f2e-1a00-7000-8000-00000000000a"},
		{"session_status_changed", managelink.KindSession, "/manage/sessions/01958f2e-1a00-7000-8000-00000000000a"},
		{"event_registration", managelink.KindRegistration, "/manage/registrations/01958f2e-1a00-7000-8000-00000000001f"},
		{"event_waitlisted", managelink.KindRegistration, "/manage/registrations/01958f2e-1a00-7000-8000-00000000001f"},
		{"event_promoted", managelink.KindRegistration, "/manage/registrations/01958f2e-1a00-7000-8000-00000000001f"},
		{"event_rescheduled", managelink.KindRegistration, "/manage/registrations/01958f2e-1a00-7000-8000-00000000001f"},
		{"event_already_registered", managelink.KindRegistration, "/manage/registrations/01958f2e-1a00-7000-8000-00000000001f"},
	}
	verifier := testLinks(t)
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			ev, err := email.Sample(tt.sample)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				ManageExpires time.Time `json:"manage_expires"`
			}
			if err := ev.UnmarshalData(&d); err != nil || d.ManageExpires.IsZero() {
				t.Fatalf("sample has no manage_expires: %v", err)
			}
			m, err := c.Compose(ev)
			if err != nil {
				t.Fatal(err)
			}
			var link *url.URL
			for _, f := range strings.Fields(m.Text) {
				if strings.HasPrefix(f, "https://acube.example"+tt.path+"?token=") {
					link, err = url.Parse(f)
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if link == nil {
				t.Fatalf("no link to %s in:\n%s", tt.path, m.Text)
			}
			id, token := strings.TrimPrefix(path.Base(link.Path), "/"), link.Query().Get("token")
			if err := verifier.Verify(tt.kind, id, token, d.ManageExpires.Add(-time.Second)); err != nil {
				t.Errorf("booking refuses %s: %v", link, err)
			}
			if err := verifier.Verify(tt.kind, id, token, d.ManageExpires); err == nil {
				t.Errorf("%s still opens at its expiry", link)
			}
		})
	}
}

func TestMessageID(t *testing.T) {
	id := uuid.MustParse("01958f2e-1a00-7000-8000-000000000001")
	a := email.MessageID(id, "User@Example.com", "acube.local")
	tests := []struct {
		name  string
		other string
		same  bool
	}{
		{name: "same event and recipient", other: email.MessageID(id, "User@Example.com", "acube.local"), same: true},
		{name: "case of the address does not matter", other: email.MessageID(id, "user@example.com", "acube.local"), same: true},
		{name: "other recipient", other: email.MessageID(id, "other@example.com", "acube.local")},
		{name: "other event", other: email.MessageID(uuid.New(), "user@example.com", "acube.local")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (a == tt.other) != tt.same {
				t.Errorf("%q vs %q: same = %v, want %v", a, tt.other, a == tt.other, tt.same)
			}
		})
	}
	if !strings.HasPrefix(a, id.String()+".") || !strings.HasSuffix(a, "@acube.local") || strings.Contains(a, "example") {
		t.Errorf("message id %q: want <event-id>.<hash>@acube.local without the address", a)
	}
}

// testLinks is the manage-link signer of the tests: the mailer mints the
// links of bookings and registrations with it.
func testLinks(t testing.TB) *managelink.Signer {
	t.Helper()
	s, err := managelink.NewSigner([]byte(strings.Repeat("k", managelink.MinSecretLen)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestManageTemplates: an organisation's own front end gets the links
// when its templates are set, with the token escaped and still valid.
func TestManageTemplates(t *testing.T) {
	set, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	session, err := managelink.ParseTemplate("https://www.acube.org/booking/{id}?t={token}")
	if err != nil {
		t.Fatal(err)
	}
	registration, err := managelink.ParseTemplate("https://www.acube.org/events/mine/{id}?t={token}")
	if err != nil {
		t.Fatal(err)
	}
	c, err := email.NewComposer(set, "https://acube.example/", testLinks(t), time.UTC, "acube.local",
		email.WithManageTemplates(session, registration))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ sample, kind, prefix string }{
		{"session_confirmation", managelink.KindSession, "https://www.acube.org/booking/"},
		{"event_registration", managelink.KindRegistration, "https://www.acube.org/events/mine/"},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			ev, err := email.Sample(tt.sample)
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.Compose(ev)
			if err != nil {
				t.Fatal(err)
			}
			var link *url.URL
			for _, f := range strings.Fields(m.Text) {
				if strings.HasPrefix(f, tt.prefix) {
					if link, err = url.Parse(f); err != nil {
						t.Fatal(err)
					}
				}
			}
			if link == nil {
				t.Fatalf("no link to %s in:\n%s", tt.prefix, m.Text)
			}
			if strings.Contains(m.Text, "acube.example/manage/") {
				t.Errorf("the default page link is still in the email:\n%s", m.Text)
			}
			if err := testLinks(t).Verify(tt.kind, path.Base(link.Path), link.Query().Get("t"), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Errorf("token of %s does not verify: %v", link, err)
			}
		})
	}
}

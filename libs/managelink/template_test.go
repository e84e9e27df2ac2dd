package managelink

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		wantErr bool
	}{
		{name: "default page", raw: "https://acube.example/manage/sessions/{id}?token={token}"},
		{name: "own front end", raw: "https://www.acube.org/booking/{id}/manage#t={token}"},
		{name: "http", raw: "http://localhost:8001/manage/registrations/{id}?token={token}"},
		{name: "no token", raw: "https://acube.example/manage/{id}", wantErr: true},
		{name: "no id", raw: "https://acube.example/manage?token={token}", wantErr: true},
		{name: "id twice", raw: "https://acube.example/{id}/{id}?token={token}", wantErr: true},
		{name: "path only", raw: "/manage/sessions/{id}?token={token}", wantErr: true},
		{name: "javascript", raw: "javascript:alert('{id}{token}')", wantErr: true},
		{name: "no host", raw: "https:///{id}?token={token}", wantErr: true},
		{name: "user info", raw: "https://user@acube.example/{id}?token={token}", wantErr: true},
		{name: "quote", raw: "https://acube.example/{id}?token={token}\"", wantErr: true},
		{name: "empty", raw: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTemplate(tt.raw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTemplate(%q) = %v, wantErr %v", tt.raw, err, tt.wantErr)
			}
		})
	}
}

// TestLinkOpensThePage mints links from the default page templates and
// from a front end's template, and checks the token survives escaping
// and opens the record it names only.
func TestLinkOpensThePage(t *testing.T) {
	t.Parallel()
	s, err := NewSigner([]byte(strings.Repeat("k", MinSecretLen)))
	if err != nil {
		t.Fatal(err)
	}
	const id = "01958f2e-1a00-7000-8000-00000000000a"
	now := time.Date(2030, time.March, 14, 9, 30, 0, 0, time.UTC)
	session, _ := PageTemplate("https://acube.example/", SessionPagePath)
	registration, _ := PageTemplate("https://acube.example", RegistrationPagePath)
	front, err := ParseTemplate("https://www.acube.org/my-booking?ref={id}&t={token}")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kind, wantPath, tokenParam string
		tmpl                             Template
	}{
		{"session page", KindSession, "/manage/sessions/" + id, "token", session},
		{"registration page", KindRegistration, "/manage/registrations/" + id, "token", registration},
		{"front end", KindSession, "/my-booking", "t", front},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, err := s.Link(tt.tmpl, tt.kind, id, now.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if u.Path != tt.wantPath {
				t.Errorf("path %s, want %s", u.Path, tt.wantPath)
			}
			if err := s.Verify(tt.kind, id, u.Query().Get(tt.tokenParam), now); err != nil {
				t.Errorf("token of %s does not verify: %v", raw, err)
			}
		})
	}
	if _, err := s.Link(Template{}, KindSession, id, now); err == nil {
		t.Error("zero template made a link")
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	s, _ := NewSigner([]byte(strings.Repeat("k", MinSecretLen)))
	at := time.Unix(1900000000, 0)
	tests := []struct {
		name   string
		token  string
		want   time.Time
		wantOK bool
	}{
		{name: "signed", token: s.Sign(KindSession, "x", at), want: at, wantOK: true},
		{name: "garbage", token: "abc"},
		{name: "not a number", token: "x.y"},
		{name: "negative", token: "-5.y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Expiry(tt.token)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("Expiry(%q) = %v, %v; want %v, %v", tt.token, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

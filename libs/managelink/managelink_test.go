package managelink

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	s, err := NewSigner([]byte(strings.Repeat("x", 32)))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewSigner([]byte(strings.Repeat("y", 32)))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	good := s.Sign(KindSession, "id-1", now.Add(time.Hour))
	tests := []struct {
		name    string
		kind    string
		id      string
		token   string
		at      time.Time
		wantErr bool
	}{
		{name: "valid", kind: KindSession, id: "id-1", token: good, at: now},
		{name: "expired", kind: KindSession, id: "id-1", token: good, at: now.Add(time.Hour), wantErr: true},
		{name: "other id", kind: KindSession, id: "id-2", token: good, at: now, wantErr: true},
		{name: "other kind", kind: KindRegistration, id: "id-1", token: good, at: now, wantErr: true},
		{name: "other secret", kind: KindSession, id: "id-1", token: other.Sign(KindSession, "id-1", now.Add(time.Hour)), at: now, wantErr: true},
		{name: "extended expiry", kind: KindSession, id: "id-1", token: strings.Replace(good, good[:strings.IndexByte(good, '.')], "9999999999", 1), at: now, wantErr: true},
		{name: "leading zero expiry", kind: KindSession, id: "id-1", token: "0" + good, at: now, wantErr: true},
		{name: "empty", kind: KindSession, id: "id-1", token: "", at: now, wantErr: true},
		{name: "garbage", kind: KindSession, id: "id-1", token: "abc.def", at: now, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Verify(tt.kind, tt.id, tt.token, tt.at)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name       string
		configured string
		wantLen    int
		wantErr    bool
	}{
		{name: "configured wins", configured: strings.Repeat("c", 40), wantLen: 40},
		{name: "generated", wantLen: 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadOrCreateSecret(tt.configured, dir)
			if (err != nil) != tt.wantErr || len(got) != tt.wantLen {
				t.Fatalf("LoadOrCreateSecret = %d bytes, %v", len(got), err)
			}
		})
	}
	a, _ := LoadOrCreateSecret("", dir)
	b, _ := LoadOrCreateSecret("", dir)
	if string(a) != string(b) {
		t.Fatal("the generated secret did not survive a restart")
	}
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("short secret accepted")
	}
}

// TestURLRoundTrip mints the links the mailer sends and checks that the
// signer booking verifies with opens each one for its record only, with
// the URL shape the gateway routes (/api/sessions/{id}?token=…).
func TestURLRoundTrip(t *testing.T) {
	s, err := NewSigner([]byte(strings.Repeat("k", MinSecretLen)))
	if err != nil {
		t.Fatal(err)
	}
	const id = "01958f2e-1a00-7000-8000-00000000000a"
	now := time.Date(2030, time.March, 14, 9, 30, 0, 0, time.UTC)
	expires := now.Add(48 * time.Hour)
	tests := []struct {
		name, kind, url, wantPath string
	}{
		{"session", KindSession, s.SessionURL("https://acube.example/", id, expires), "/api/sessions/" + id},
		{"registration", KindRegistration, s.RegistrationURL("https://acube.example", id, expires), "/api/registrations/" + id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "https" || u.Host != "acube.example" || u.Path != tt.wantPath {
				t.Fatalf("url %s, want https://acube.example%s?token=…", tt.url, tt.wantPath)
			}
			token := u.Query().Get("token")
			if err := s.Verify(tt.kind, id, token, now); err != nil {
				t.Fatalf("verify: %v", err)
			}
			other := KindSession
			if tt.kind == KindSession {
				other = KindRegistration
			}
			if err := s.Verify(other, id, token, now); !errors.Is(err, ErrInvalid) {
				t.Fatalf("token opens a %s: %v", other, err)
			}
			if err := s.Verify(tt.kind, id, token, expires); !errors.Is(err, ErrInvalid) {
				t.Fatalf("token opens at its expiry: %v", err)
			}
		})
	}
}

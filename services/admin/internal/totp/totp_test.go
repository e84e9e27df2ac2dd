package totp

import (
	"encoding/base32"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// TestRFC6238Vectors checks the code generator against RFC 6238's
// appendix B (SHA-1, eight digits, the 20-byte ASCII secret).
func TestRFC6238Vectors(t *testing.T) {
	t.Parallel()
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	tests := []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		got, err := hotp.GenerateCodeCustom(secret, uint64(Step(time.Unix(tt.unix, 0))),
			hotp.ValidateOpts{Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1})
		if err != nil || got != tt.want {
			t.Errorf("T=%d: %q, %v; want %s", tt.unix, got, err, tt.want)
		}
		// The six-digit code apps show is the same number's last six digits.
		six, err := Code(secret, Step(time.Unix(tt.unix, 0)))
		if err != nil || six != tt.want[2:] {
			t.Errorf("T=%d six digits: %q, %v; want %s", tt.unix, six, err, tt.want[2:])
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	k, err := NewKey("A-Cube Admin", "ada@example.org")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(k.URI)
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != k.Secret || !strings.Contains(u.Path, "ada@example.org") {
		t.Fatalf("URI %s", k.URI)
	}
	now := time.Date(2030, 1, 1, 12, 0, 10, 0, time.UTC)
	cur := Step(now)
	code := func(s int64) string {
		c, err := Code(k.Secret, s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		code     string
		last     int64
		wantStep int64
		wantOK   bool
	}{
		{name: "current step", code: code(cur), wantStep: cur, wantOK: true},
		{name: "previous step (skew)", code: code(cur - 1), wantStep: cur - 1, wantOK: true},
		{name: "next step (skew)", code: code(cur + 1), wantStep: cur + 1, wantOK: true},
		{name: "two steps old", code: code(cur - 2)},
		{name: "replayed: its step is the last used", code: code(cur), last: cur},
		{name: "an older step after a newer was used", code: code(cur - 1), last: cur},
		{name: "a newer step after an older was used", code: code(cur), last: cur - 1, wantStep: cur, wantOK: true},
		{name: "wrong code", code: "000000"},
		{name: "too short", code: code(cur)[:5]},
		{name: "not digits", code: "abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := Match(k.Secret, tt.code, now, tt.last)
			if ok != tt.wantOK || step != tt.wantStep {
				t.Fatalf("Match = %d, %v; want %d, %v", step, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

package managelink

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary manage-link tokens to Verify: only a token
// Sign made for the same kind and id, before it expires, opens the link;
// anything else is ErrInvalid, never a panic.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner([]byte(strings.Repeat("k", MinSecretLen)))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	good := s.Sign("session", "0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11", now.Add(time.Hour))
	for _, tok := range []string{good, "", ".", "1.", "-1.x", "01." + strings.Repeat("A", 43), good + "=", "99999999999999." + strings.Repeat("_", 43)} {
		f.Add("session", "0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11", tok)
	}
	f.Fuzz(func(t *testing.T, kind, id, token string) {
		err := s.Verify(kind, id, token, now)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Verify(%q, %q, %q): %v, want ErrInvalid", kind, id, token, err)
		}
		if err == nil {
			exp, _, _ := strings.Cut(token, ".")
			if want := s.Sign(kind, id, mustUnix(t, exp)); want != token {
				t.Fatalf("accepted %q for (%q, %q); Sign gives %q", token, kind, id, want)
			}
		}
	})
}

func mustUnix(t *testing.T, exp string) time.Time {
	t.Helper()
	var n int64
	for _, c := range exp {
		if c < '0' || c > '9' {
			t.Fatalf("accepted expiry %q", exp)
		}
		n = n*10 + int64(c-'0')
	}
	return time.Unix(n, 0)
}

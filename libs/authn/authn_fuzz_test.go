package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to Verify as access tokens: every
// refusal wraps ErrInvalidToken, and an accepted token is one this key
// signed for the configured issuer and audience, unexpired, with a
// subject and a role. No token makes it fetch a key set (it has none).
func FuzzVerify(f *testing.F) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	kid := Thumbprint(pub)
	v, err := NewVerifier(Config{Issuer: "acube-admin", Audience: "acube", StaticKeys: map[string]ed25519.PublicKey{kid: pub},
		Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, goodClaims())
	tok.Header["kid"] = kid
	good, err := tok.SignedString(priv)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	for _, s := range []string{good, "", "a.b.c", parts[0] + "." + parts[1] + ".", "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		parts[0] + "." + parts[1] + "." + parts[2] + "A", strings.Repeat(".", 3), "eyJ.eyJ.eyJ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify(%q): %v, want ErrInvalidToken", token, err)
			}
			return
		}
		if c.Subject == "" || c.Role == "" || c.Issuer != "acube-admin" || c.ExpiresAt == nil || !c.ExpiresAt.After(t0.Add(-5*time.Second)) {
			t.Fatalf("Verify(%q) accepted %+v", token, c)
		}
	})
}

// FuzzBearerToken feeds arbitrary Authorization headers to BearerToken: a
// token it returns is non-empty and trimmed, and only a Bearer scheme
// yields one.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "Basic abc", "Bearer", "Bearer ", "", "BEARER\tx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Authorization": {header}}}
		tok, ok := BearerToken(r)
		if !ok {
			if tok != "" {
				t.Fatalf("BearerToken(%q) = %q without ok", header, tok)
			}
			return
		}
		scheme, _, _ := strings.Cut(header, " ")
		if tok == "" || strings.TrimSpace(tok) != tok || !strings.EqualFold(scheme, "Bearer") {
			t.Fatalf("BearerToken(%q) = %q", header, tok)
		}
	})
}

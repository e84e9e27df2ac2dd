package token

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acube/platform/libs/authn"
)

func TestLoadOrCreateKeepsTheKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "admin")
	k1, created, err := LoadOrCreate("", dir)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreate = %v, %v", created, err)
	}
	k2, created, err := LoadOrCreate("", dir)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = %v, %v", created, err)
	}
	if !k1.Equal(k2) {
		t.Fatal("restart produced a different key")
	}
	fi, err := os.Stat(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	pub, err := LoadPublic(filepath.Join(dir, "signing-key.pem"))
	if err != nil || !pub.Equal(k1.Public()) {
		t.Fatalf("LoadPublic = %v", err)
	}
}

func TestSignVerifiesWithAuthn(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(nil)
	_, old, _ := ed25519.GenerateKey(nil)
	keys := NewKeys(priv, old.Public().(ed25519.PublicKey))
	if n := len(keys.JWKS().Keys); n != 2 {
		t.Fatalf("JWKS has %d keys, want 2", n)
	}
	now := time.Now()
	s := NewSigner(keys, "acube-admin", "acube", 10*time.Minute)
	tok, exp, err := s.Sign(Subject{ID: "id-1", Email: "a@example.org", Role: authn.RoleAdmin, SessionID: "sid-1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(now); d > 10*time.Minute || d < 9*time.Minute {
		t.Fatalf("expiry in %s", d)
	}
	v, err := authn.NewVerifier(authn.Config{Issuer: "acube-admin", Audience: "acube", StaticKeys: keys.Public()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminID() != "id-1" || c.Role != authn.RoleAdmin || c.ID == "" || c.SessionID != "sid-1" {
		t.Fatalf("claims = %+v", c)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	a, ha := NewSecret()
	b, _ := NewSecret()
	if a == b || len(a) != 43 {
		t.Fatalf("refresh tokens %q %q", a, b)
	}
	if string(HashSecret(a)) != string(ha) {
		t.Fatal("hash is not stable")
	}
}

// Package authntest stands in for the admin service in the tests of the
// services that verify its access tokens: it serves a JWKS over real
// HTTP, signs access tokens with the key it serves, and publishes
// admin.sessions.revoked events on the ADMIN stream as the admin service's
// outbox does.
package authntest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/stream"
)

// Issuer signs access tokens and serves its public key at JWKSURL.
type Issuer struct {
	// JWKSURL serves the key set (ADMIN_JWKS_URL).
	JWKSURL string
	kid     string
	priv    ed25519.PrivateKey
}

// NewIssuer starts the JWKS server; it stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := authn.JWKS{Keys: []authn.JWK{authn.NewJWK(pub)}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	return &Issuer{JWKSURL: srv.URL, kid: authn.Thumbprint(pub), priv: priv}
}

// Session is one login of an admin, as the tokens it is issued name it.
type Session struct {
	AdminID uuid.UUID
	// ID is the sid claim, the refresh-token family.
	ID   string
	Role string
}

// NewSession is a fresh login of a fresh admin with role.
func NewSession(role string) Session {
	return Session{AdminID: uuid.New(), ID: uuid.NewString(), Role: role}
}

// Claims are the claims of an access token of s issued at iat and living
// ten minutes, for the default issuer and audience (acube-admin, acube).
func Claims(s Session, iat time.Time) authn.Claims {
	return authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "acube-admin", Subject: s.AdminID.String(), Audience: jwt.ClaimStrings{"acube"},
			IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(10 * time.Minute))},
		Email: "ann@example.org", Name: "Ann", Role: s.Role, SessionID: s.ID,
	}
}

// Token signs Claims(s, iat).
func (i *Issuer) Token(t testing.TB, s Session, iat time.Time) string {
	t.Helper()
	return i.Sign(t, Claims(s, iat))
}

// Sign signs c as an access token under the issuer's key id, whatever c
// holds: tests of expired, foreign or malformed claims build their own.
func (i *Issuer) Sign(t testing.TB, c authn.Claims) string {
	t.Helper()
	return sign(t, c, i.kid, i.priv)
}

// Forge signs c under the issuer's key id with a key that is not the
// issuer's: a token whose signature must not verify.
func (i *Issuer) Forge(t testing.TB, c authn.Claims) string {
	t.Helper()
	_, other, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, c, i.kid, other)
}

// PublicKeys is the issuer's key by id, for a verifier configured with
// StaticKeys rather than JWKSURL.
func (i *Issuer) PublicKeys() map[string]ed25519.PublicKey {
	return map[string]ed25519.PublicKey{i.kid: i.priv.Public().(ed25519.PublicKey)}
}

func sign(t testing.TB, c authn.Claims, kid string, key ed25519.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = kid
	out, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// DeclareAdminStream creates the ADMIN stream, as the admin service does
// when it starts: a service's revocation feed reads it.
func DeclareAdminStream(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	if _, err := stream.Ensure(context.Background(), js, stream.Admin(1)); err != nil {
		t.Fatal(err)
	}
}

// Revoke publishes d on the ADMIN stream, which must exist, and returns
// once JetStream has stored it. RevokedAt defaults to now.
func Revoke(t testing.TB, js jetstream.JetStream, d events.SessionsRevoked) {
	t.Helper()
	if d.RevokedAt.IsZero() {
		d.RevokedAt = time.Now()
	}
	ev, err := events.New("admin", events.TypeSessionsRevoked, d)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), ev.Subject(), body, jetstream.WithMsgID(ev.ID.String())); err != nil {
		t.Fatalf("publish %s: %v", ev.Type, err)
	}
}

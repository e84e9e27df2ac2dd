package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/authn"
)

// Subject is what an access token says about its holder.
type Subject struct {
	ID    string
	Email string
	Name  string
	Role  string
	// SessionID is the login session (refresh-token family) the token
	// belongs to, its sid claim: revoking the session voids the token.
	SessionID string
}

// Signer mints access tokens.
type Signer struct {
	keys     *Keys
	issuer   string
	audience string
	ttl      time.Duration
}

// NewSigner returns a signer of tokens valid for ttl.
func NewSigner(keys *Keys, issuer, audience string, ttl time.Duration) *Signer {
	return &Signer{keys: keys, issuer: issuer, audience: audience, ttl: ttl}
}

// Sign returns a signed access token for s, issued at now, and its expiry.
func (g *Signer) Sign(s Subject, now time.Time) (string, time.Time, error) {
	now = now.UTC().Truncate(time.Second)
	exp := now.Add(g.ttl)
	claims := authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: g.issuer, Subject: s.ID, Audience: jwt.ClaimStrings{g.audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp), ID: uuid.NewString(),
		},
		Email: s.Email, Name: s.Name, Role: s.Role, SessionID: s.SessionID,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = g.keys.KeyID()
	signed, err := t.SignedString(g.keys.signing)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return signed, exp, nil
}

// NewSecret returns a fresh opaque bearer secret (256 random bits): a
// refresh token, an invitation or an MFA token; and the hash under which
// it is stored. The secret itself is never stored.
func NewSecret() (plain string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	plain = base64.RawURLEncoding.EncodeToString(b[:])
	return plain, HashSecret(plain)
}

// HashSecret is the stored form of a secret from NewSecret. A plain
// SHA-256 is enough: the secret has 256 bits of entropy, so it cannot be
// guessed from its hash, and lookups by hash stay a single index probe.
func HashSecret(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

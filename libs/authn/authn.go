// Package authn verifies the admin access tokens the admin service issues,
// for every service that serves admin routes.
//
// A token is a JWT signed with Ed25519 (alg EdDSA, pinned: no other
// algorithm is ever accepted, so "none" and HMAC-with-the-public-key tricks
// fail before any key is looked at). Its header names the key id (kid); the
// key comes from the admin service's JSON Web Key Set, fetched from its
// JWKS URL and cached, or from static keys in tests. iss, aud, exp and nbf
// are checked with a small leeway for clock skew.
package authn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is the only signing algorithm tokens may use.
const Algorithm = "EdDSA"

// Roles an admin account can hold. A superadmin manages admin accounts; an
// admin does everything else.
const (
	RoleSuperadmin = "superadmin"
	RoleAdmin      = "admin"
)

// Claims are the contents of an access token.
type Claims struct {
	jwt.RegisteredClaims
	// Email is the admin's email address, for audit records.
	Email string `json:"email"`
	// Name is the admin's display name.
	Name string `json:"name,omitempty"`
	// Role is RoleSuperadmin or RoleAdmin.
	Role string `json:"role"`
}

// AdminID is the admin account's id, the token's subject.
func (c *Claims) AdminID() string { return c.Subject }

// Errors Verify wraps; all of them mean 401 to a client.
var (
	// ErrInvalidToken covers every malformed, forged or expired token.
	ErrInvalidToken = errors.New("invalid access token")
	// ErrUnknownKey means the token's kid is not in the key set, even after
	// a refresh of the set.
	ErrUnknownKey = errors.New("unknown signing key")
)

// Config configures a Verifier. Zero values take the defaults in brackets.
type Config struct {
	// Issuer is the required iss claim.
	Issuer string
	// Audience is the required aud claim (one of the token's audiences).
	Audience string
	// JWKSURL is where the admin service serves its public keys, e.g.
	// http://admin:8102/api/admin/auth/jwks.json. Empty means StaticKeys only.
	JWKSURL string
	// StaticKeys are keys known without fetching, by kid (tests, or a key
	// pinned by configuration).
	StaticKeys map[string]ed25519.PublicKey
	// Leeway tolerates clock skew when checking exp and nbf [5s].
	Leeway time.Duration
	// MinRefresh is the least time between two fetches of the key set, so a
	// flood of tokens with made-up kids cannot turn into a flood of fetches
	// [30s].
	MinRefresh time.Duration
	// HTTPClient fetches the key set [a client with a 5s timeout].
	HTTPClient *http.Client
	// Now is the clock [time.Now].
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Leeway <= 0 {
		c.Leeway = 5 * time.Second
	}
	if c.MinRefresh <= 0 {
		c.MinRefresh = 30 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	if c.Issuer == "" || c.Audience == "" {
		return errors.New("authn: issuer and audience are required")
	}
	if c.JWKSURL == "" && len(c.StaticKeys) == 0 {
		return errors.New("authn: a JWKS URL or static keys are required")
	}
	return nil
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	keys   *keySet
	parser *jwt.Parser
}

// NewVerifier builds a verifier. It does not fetch the key set until the
// first token needs it, so a service can start before the admin service.
func NewVerifier(cfg Config) (*Verifier, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Verifier{
		cfg:  cfg,
		keys: newKeySet(cfg),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{Algorithm}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// Verify parses and checks token and returns its claims. Every failure
// wraps ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	var claims Claims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token names no key id")
		}
		return v.keys.lookup(ctx, kid)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Subject == "" || claims.Role == "" {
		return nil, fmt.Errorf("%w: token has no subject or role", ErrInvalidToken)
	}
	return &claims, nil
}

// Package authn verifies the admin access tokens the admin service issues,
// for every service that serves admin routes.
//
// A token is a JWT signed with Ed25519 (alg EdDSA, pinned: no other
// algorithm is ever accepted, so "none" and HMAC-with-the-public-key tricks
// fail before any key is looked at). Its header names the key id (kid); the
// key comes from the admin service's JSON Web Key Set, fetched from its
// JWKS URL and cached for a few minutes (a key removed from the set is
// forgotten at the next refresh), or from static keys in tests. iss, aud,
// exp and nbf are checked with a small leeway for clock skew. With
// Revocations, a token of a revoked login session or admin is refused too
// (the admin.sessions.revoked events).
package authn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// SessionID is the login session the token belongs to (the refresh-token
	// family id, a UUID), so a logout can revoke that session's tokens
	// (events.SessionsRevoked, Revocations).
	SessionID string `json:"sid,omitempty"`
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
	// RefreshInterval is how old the fetched key set may grow before it is
	// fetched again: the first token verified after that starts a fetch in
	// the background and is checked against the set in hand, so a key
	// removed from the JWKS is forgotten within about this long [5m].
	RefreshInterval time.Duration
	// MaxAge is how long a fetched key set is trusted when it cannot be
	// fetched again: past it, tokens wait for a successful fetch and are
	// refused without one, so a retired key does not live on through an
	// outage of the admin service [1h].
	MaxAge time.Duration
	// MinRefresh is the least time between a successful fetch and one
	// started by a token whose kid is not in the set, so a flood of tokens
	// with made-up kids cannot turn into a flood of fetches [30s].
	MinRefresh time.Duration
	// RetryInterval is the least time between a failed fetch and the next
	// one [1s]. A failure is never kept as a key set: the next token after
	// it may fetch again.
	RetryInterval time.Duration
	// HTTPClient fetches the key set [a client with a 5s timeout].
	HTTPClient *http.Client
	// Revocations, when set, refuses the tokens of revoked sessions and
	// admins after their signature checked out; nil checks none (the admin
	// service's own tests, tools).
	Revocations *Revocations
	// Log receives failed background fetches [discarded].
	Log *slog.Logger
	// Now is the clock [time.Now].
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Leeway <= 0 {
		c.Leeway = 5 * time.Second
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 5 * time.Minute
	}
	if c.MaxAge <= 0 {
		c.MaxAge = time.Hour
	}
	c.MaxAge = max(c.MaxAge, c.RefreshInterval)
	if c.MinRefresh <= 0 {
		c.MinRefresh = 30 * time.Second
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
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
// wraps ErrInvalidToken (a revoked token's ErrRevoked too), except
// ErrRevocationsUnknown: the token checked out but its Revocations cannot
// tell yet whether it was revoked.
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
	if v.cfg.Revocations != nil {
		if err := v.cfg.Revocations.Check(&claims); err != nil {
			return nil, err
		}
	}
	return &claims, nil
}

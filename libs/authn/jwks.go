package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// JWK is one public key in JSON Web Key form (RFC 8037: kty OKP, crv Ed25519).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS is a JSON Web Key Set, the document served at the JWKS URL.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// NewJWK describes pub as a signing JWK whose kid is its thumbprint.
func NewJWK(pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
		Kid: Thumbprint(pub), Use: "sig", Alg: Algorithm}
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url: a key id
// that is derived from the key, so two keys never share one by mistake.
func Thumbprint(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace, as RFC 7638 requires.
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PublicKey decodes the Ed25519 key of an EdDSA signing JWK.
func (k JWK) PublicKey() (ed25519.PublicKey, error) {
	if k.Kty != "OKP" || k.Crv != "Ed25519" {
		return nil, fmt.Errorf("key %s: not an Ed25519 key (kty %q, crv %q)", k.Kid, k.Kty, k.Crv)
	}
	if k.Alg != "" && k.Alg != Algorithm {
		return nil, fmt.Errorf("key %s: algorithm %q is not %s", k.Kid, k.Alg, Algorithm)
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("key %s: use %q is not sig", k.Kid, k.Use)
	}
	raw, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %s: bad x", k.Kid)
	}
	return ed25519.PublicKey(raw), nil
}

// keySet caches the fetched keys by kid and refetches on an unknown kid, at
// most once per MinRefresh.
type keySet struct {
	cfg Config

	mu        sync.Mutex
	fetched   map[string]ed25519.PublicKey
	lastFetch time.Time
}

func newKeySet(cfg Config) *keySet {
	return &keySet{cfg: cfg, fetched: map[string]ed25519.PublicKey{}}
}

func (s *keySet) lookup(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s.cfg.StaticKeys[kid]; ok {
		return k, nil
	}
	if s.cfg.JWKSURL == "" {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	// The lock is held across the fetch: concurrent misses wait for one
	// fetch instead of each starting their own.
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.fetched[kid]; ok {
		return k, nil
	}
	now := s.cfg.Now()
	if !s.lastFetch.IsZero() && now.Sub(s.lastFetch) < s.cfg.MinRefresh {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	s.lastFetch = now
	keys, err := s.fetch(ctx)
	if err != nil {
		return nil, err
	}
	s.fetched = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

func (s *keySet) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch key set from %s: %w", s.cfg.JWKSURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch key set from %s: status %d", s.cfg.JWKSURL, resp.StatusCode)
	}
	var set JWKS
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode key set from %s: %w", s.cfg.JWKSURL, err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		pub, err := k.PublicKey()
		if err != nil {
			continue // a key we cannot use never verifies anything
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}

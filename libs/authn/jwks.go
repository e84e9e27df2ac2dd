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

// keySet caches the fetched keys by kid. Fetches run in a goroutine of
// their own, outside the lock and outside any request's context: a reader
// with a usable set never waits for one, a cancelled request cancels only
// its own wait, and concurrent readers that need the fetch share it.
type keySet struct {
	cfg Config

	mu sync.Mutex
	// keys is the set of the last successful fetch, replaced whole by the
	// next one so a key removed from the JWKS is forgotten.
	keys map[string]ed25519.PublicKey
	// fetchedAt is when the last successful fetch started (zero: none).
	fetchedAt time.Time
	// failedAt is when the last failed fetch ended (zero: none since the
	// last success); lastErr is its error.
	failedAt time.Time
	lastErr  error
	// running is the fetch in progress, nil when none.
	running *fetchCall
}

// fetchCall is one fetch that several readers may wait for.
type fetchCall struct {
	done chan struct{}
	err  error
}

func newKeySet(cfg Config) *keySet {
	return &keySet{cfg: cfg, keys: map[string]ed25519.PublicKey{}}
}

func (s *keySet) lookup(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s.cfg.StaticKeys[kid]; ok {
		return k, nil
	}
	if s.cfg.JWKSURL == "" {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	s.mu.Lock()
	now := s.cfg.Now()
	usable := !s.fetchedAt.IsZero() && now.Sub(s.fetchedAt) < s.cfg.MaxAge
	if k, ok := s.keys[kid]; ok && usable {
		if now.Sub(s.fetchedAt) >= s.cfg.RefreshInterval && s.mayFetch(now, s.cfg.RefreshInterval) {
			s.start(ctx, now) // in the background: this token uses the set in hand
		}
		s.mu.Unlock()
		return k, nil
	}
	// The kid is unknown, or the set is missing or too old to trust: only
	// a fetch can tell. Join the one running, or start one if the limits
	// allow it.
	call := s.running
	if call == nil {
		minGap := s.cfg.MinRefresh
		if !usable {
			minGap = 0 // only the failure back-off holds a needed fetch back
		}
		if !s.mayFetch(now, minGap) {
			err := fmt.Errorf("%w %q", ErrUnknownKey, kid)
			if !usable && s.lastErr != nil {
				err = fmt.Errorf("%w %q: key set unavailable: %w", ErrUnknownKey, kid, s.lastErr)
			}
			s.mu.Unlock()
			return nil, err
		}
		call = s.start(ctx, now)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the key set: %w", ctx.Err())
	}
	if call.err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrUnknownKey, kid, call.err)
	}
	s.mu.Lock()
	k, ok := s.keys[kid]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	return k, nil
}

// mayFetch reports whether a fetch may start at now: none is running, the
// last failure is RetryInterval old, the last success minGap old. The
// caller holds mu.
func (s *keySet) mayFetch(now time.Time, minGap time.Duration) bool {
	if s.running != nil {
		return false
	}
	if !s.failedAt.IsZero() && now.Sub(s.failedAt) < s.cfg.RetryInterval {
		return false
	}
	return s.fetchedAt.IsZero() || now.Sub(s.fetchedAt) >= minGap
}

// start runs a fetch in the background and returns it. The fetch keeps the
// values of ctx but not its cancellation or deadline. The caller holds mu.
func (s *keySet) start(ctx context.Context, now time.Time) *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	s.running = call
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		keys, err := s.fetch(fctx)
		cancel()
		s.mu.Lock()
		if err != nil {
			s.failedAt, s.lastErr = s.cfg.Now(), err
		} else {
			s.keys, s.fetchedAt, s.failedAt, s.lastErr = keys, now, time.Time{}, nil
		}
		s.running = nil
		call.err = err
		s.mu.Unlock()
		close(call.done)
		if err != nil {
			s.cfg.Log.Warn("fetch admin key set", "url", s.cfg.JWKSURL, "error", err.Error())
		}
	}()
	return call
}

// fetchTimeout bounds one fetch whatever the HTTP client's timeout.
const fetchTimeout = 10 * time.Second

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

package authn

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acube/platform/libs/testkit"
)

// jwksServer is a real HTTP JWKS endpoint whose keys, status and speed a
// test changes as it goes.
type jwksServer struct {
	url     string
	keys    atomic.Value // JWKS
	status  atomic.Int32 // 0 means 200
	fetches atomic.Int32
	// gate, when set, holds every request until it is closed.
	mu   sync.Mutex
	gate chan struct{}
}

func newJWKSServer(t *testing.T, keys ...ed25519.PublicKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(keys...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if code := s.status.Load(); code != 0 {
			http.Error(w, "down", int(code))
			return
		}
		_ = json.NewEncoder(w).Encode(s.keys.Load())
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// serve makes the server publish exactly keys.
func (s *jwksServer) serve(keys ...ed25519.PublicKey) {
	set := JWKS{Keys: []JWK{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, NewJWK(k))
	}
	s.keys.Store(set)
}

// hold makes requests wait until the returned function is called.
func (s *jwksServer) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
		})
	}
}

// claimsAt are goodClaims issued at at.
func claimsAt(at time.Time) Claims {
	c := goodClaims()
	c.IssuedAt, c.NotBefore = jwt.NewNumericDate(at), jwt.NewNumericDate(at)
	c.ExpiresAt = jwt.NewNumericDate(at.Add(10 * time.Minute))
	return c
}

// settle waits until no fetch of v's key set is running.
func settle(v *Verifier) {
	for {
		v.keys.mu.Lock()
		call := v.keys.running
		v.keys.mu.Unlock()
		if call == nil {
			return
		}
		<-call.done
	}
}

func jwksVerifier(t *testing.T, url string, clock *testkit.Clock) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{Issuer: "acube-admin", Audience: "acube", JWKSURL: url,
		RefreshInterval: 5 * time.Minute, MaxAge: time.Hour, MinRefresh: 30 * time.Second, RetryInterval: time.Second,
		Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJWKSRotationAndRetirement: a key added to the JWKS is picked up on
// its first token; a key removed from it is refused once the set has been
// refreshed, and a token signed with a key removed a day earlier is
// refused (issue 13, finding 4: it was accepted forever).
func TestJWKSRotationAndRetirement(t *testing.T) {
	t.Parallel()
	oldPub, oldPriv := newKey(t)
	newPub, newPriv := newKey(t)
	srv := newJWKSServer(t, oldPub)
	clock := testkit.NewClock(t0.Add(time.Second))
	v := jwksVerifier(t, srv.url, clock)
	ctx := context.Background()
	oldTok := sign(t, goodClaims(), Thumbprint(oldPub), oldPriv)
	newTok := sign(t, goodClaims(), Thumbprint(newPub), newPriv)

	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatalf("token of the published key: %v", err)
	}
	// Rotation: the admin publishes the new key next to the old one and
	// signs with it; the first token of the new kid fetches the set.
	srv.serve(oldPub, newPub)
	clock.Advance(30 * time.Second)
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("token of the rotated-in key: %v", err)
	}
	// Retirement: the old key leaves the set. Within the refresh
	// interval the set in hand still holds it; the first token after the
	// interval is checked against the set in hand while a refresh runs in
	// the background, and every token after that refresh is refused.
	srv.serve(newPub)
	clock.Advance(5 * time.Minute)
	if _, err := v.Verify(ctx, oldTok); err != nil {
		t.Fatalf("old key's token while the refresh runs: %v", err)
	}
	settle(v)
	if _, err := v.Verify(ctx, oldTok); !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("retired key's token after the refresh = %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("current key's token after the refresh: %v", err)
	}

	// A verifier that fetched the old key, then saw no token for a day:
	// its set is past MaxAge, so the token waits for a fetch that no
	// longer lists the key.
	srv.serve(oldPub)
	idle := testkit.NewClock(t0.Add(time.Second))
	v2 := jwksVerifier(t, srv.url, idle)
	if _, err := v2.Verify(ctx, oldTok); err != nil {
		t.Fatal(err)
	}
	srv.serve(newPub)
	idle.Advance(24 * time.Hour)
	before := srv.fetches.Load()
	// Signed by the retired key now, so only the key can be wrong.
	if _, err := v2.Verify(ctx, sign(t, claimsAt(idle.Now()), Thumbprint(oldPub), oldPriv)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("token of a key removed 24 h earlier = %v, want ErrUnknownKey", err)
	}
	if got := srv.fetches.Load() - before; got != 1 {
		t.Fatalf("%d fetches for the stale set, want 1", got)
	}
}

// TestJWKSSlowServerDoesNotBlockKnownKeys: while a refresh hangs on a slow
// admin service, tokens of known keys are verified at once, even by a
// request whose context has already ended (it could not wait for
// anything); concurrent tokens of an unknown kid share one fetch.
func TestJWKSSlowServerDoesNotBlockKnownKeys(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	newPub, newPriv := newKey(t)
	srv := newJWKSServer(t, pub)
	clock := testkit.NewClock(t0.Add(time.Second))
	v := jwksVerifier(t, srv.url, clock)
	tok := sign(t, goodClaims(), Thumbprint(pub), priv)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}

	release := srv.hold()
	defer release()
	srv.serve(pub, newPub)
	clock.Advance(6 * time.Minute) // past the refresh interval: a refresh starts and hangs
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 3 {
		if _, err := v.Verify(done, tok); err != nil {
			t.Fatalf("known key during a hanging refresh (#%d): %v", i, err)
		}
	}

	// Tokens of the new kid must wait for the set; they wait for the one
	// fetch that runs instead of each starting their own.
	newTok := sign(t, goodClaims(), Thumbprint(newPub), newPriv)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := v.Verify(context.Background(), newTok)
			errs <- err
		}()
	}
	release()
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatalf("new kid after the slow fetch: %v", err)
		}
	}
	settle(v)
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("%d fetches, want 2: the first and the hanging refresh the waiters shared", got)
	}
}

// TestJWKSFailuresAreNotCached: a failing admin service neither stops
// known keys (until MaxAge) nor is remembered as an empty set: once it
// answers again, the next token after RetryInterval fetches.
func TestJWKSFailuresAreNotCached(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	newPub, newPriv := newKey(t)
	srv := newJWKSServer(t, pub)
	clock := testkit.NewClock(t0.Add(time.Second))
	v := jwksVerifier(t, srv.url, clock)
	ctx := context.Background()
	tok := sign(t, goodClaims(), Thumbprint(pub), priv)
	newTok := sign(t, goodClaims(), Thumbprint(newPub), newPriv)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}

	srv.status.Store(http.StatusInternalServerError)
	clock.Advance(time.Minute)
	if _, err := v.Verify(ctx, newTok); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new kid while the JWKS fails = %v, want ErrUnknownKey", err)
	}
	clock.Advance(5 * time.Minute) // background refreshes fail too
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("known key while the JWKS fails: %v", err)
	}
	settle(v)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("known key after a failed refresh: %v", err)
	}

	srv.status.Store(0)
	srv.serve(pub, newPub)
	clock.Advance(time.Second)
	if _, err := v.Verify(ctx, newTok); err != nil {
		t.Fatalf("new kid once the JWKS answers again: %v", err)
	}

	// Past MaxAge without one successful fetch, the set is not trusted.
	srv.status.Store(http.StatusServiceUnavailable)
	clock.Advance(time.Hour)
	if _, err := v.Verify(ctx, sign(t, claimsAt(clock.Now()), Thumbprint(pub), priv)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("known key past MaxAge with the JWKS down = %v, want ErrUnknownKey", err)
	}
}

// TestJWKSCancelledFetchIsNotCached: the request that started the first
// fetch gives up; the fetch goes on without it, and the next request gets
// the key without waiting out any refresh limit (before, a cancelled fetch
// blocked valid tokens for 30 s).
func TestJWKSCancelledFetchIsNotCached(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	srv := newJWKSServer(t, pub)
	clock := testkit.NewClock(t0.Add(time.Second))
	v := jwksVerifier(t, srv.url, clock)
	tok := sign(t, goodClaims(), Thumbprint(pub), priv)

	release := srv.hold()
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, tok)
		errs <- err
	}()
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("cancelled request = %v, want context.Canceled", err)
	}
	release()
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("next request after a cancelled one: %v", err)
	}

	// The same with the admin service refusing the connection outright:
	// the failure is not a key set, and after RetryInterval it is tried
	// again.
	pub2, priv2 := newKey(t)
	down := newJWKSServer(t, pub2)
	v2 := jwksVerifier(t, down.url, clock)
	tok2 := sign(t, goodClaims(), Thumbprint(pub2), priv2)
	down.status.Store(http.StatusBadGateway)
	if _, err := v2.Verify(context.Background(), tok2); err == nil {
		t.Fatal("verified with the JWKS down")
	}
	down.status.Store(0)
	clock.Advance(time.Second)
	if _, err := v2.Verify(context.Background(), tok2); err != nil {
		t.Fatalf("after the JWKS came back: %v", err)
	}
}

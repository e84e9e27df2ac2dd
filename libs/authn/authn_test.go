package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func goodClaims() Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "acube-admin", Subject: "0190-admin", Audience: jwt.ClaimStrings{"acube"},
			IssuedAt: jwt.NewNumericDate(t0), NotBefore: jwt.NewNumericDate(t0),
			ExpiresAt: jwt.NewNumericDate(t0.Add(10 * time.Minute)),
		},
		Email: "ada@example.org", Role: RoleAdmin,
	}
}

func sign(t *testing.T, c Claims, kid string, priv ed25519.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	kid := Thumbprint(pub)
	v, err := NewVerifier(Config{Issuer: "acube-admin", Audience: "acube",
		StaticKeys: map[string]ed25519.PublicKey{kid: pub}, Now: func() time.Time { return t0.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Claims)) Claims { c := goodClaims(); f(&c); return c }
	good := sign(t, goodClaims(), kid, priv)

	hmacWithPublicKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString([]byte(pub))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	algNone := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaToken := func() string {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, goodClaims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ecToken := func() string {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, goodClaims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tampered := func() string {
		parts := strings.Split(good, ".")
		c := goodClaims()
		c.Role = RoleSuperadmin
		body, _ := json.Marshal(c)
		parts[1] = base64.RawURLEncoding.EncodeToString(body)
		return strings.Join(parts, ".")
	}

	tests := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{name: "valid", token: good},
		{name: "alg none", token: algNone(), wantErr: true},
		{name: "hmac keyed with the public key", token: hmacWithPublicKey(), wantErr: true},
		{name: "rsa", token: rsaToken(), wantErr: true},
		{name: "ecdsa", token: ecToken(), wantErr: true},
		{name: "tampered payload", token: tampered(), wantErr: true},
		{name: "signed by another key under our kid", token: sign(t, goodClaims(), kid, otherPriv), wantErr: true},
		{name: "unknown kid", token: sign(t, goodClaims(), "nope", priv), wantErr: true},
		{name: "no kid", token: sign(t, goodClaims(), "", priv), wantErr: true},
		{name: "expired", token: sign(t, with(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(t0.Add(30 * time.Second)) }), kid, priv), wantErr: true},
		{name: "expired within leeway", token: sign(t, with(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(t0.Add(58 * time.Second)) }), kid, priv)},
		{name: "no exp", token: sign(t, with(func(c *Claims) { c.ExpiresAt = nil }), kid, priv), wantErr: true},
		{name: "not yet valid", token: sign(t, with(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(t0.Add(5 * time.Minute)) }), kid, priv), wantErr: true},
		{name: "wrong audience", token: sign(t, with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} }), kid, priv), wantErr: true},
		{name: "no audience", token: sign(t, with(func(c *Claims) { c.Audience = nil }), kid, priv), wantErr: true},
		{name: "wrong issuer", token: sign(t, with(func(c *Claims) { c.Issuer = "evil" }), kid, priv), wantErr: true},
		{name: "no subject", token: sign(t, with(func(c *Claims) { c.Subject = "" }), kid, priv), wantErr: true},
		{name: "no role", token: sign(t, with(func(c *Claims) { c.Role = "" }), kid, priv), wantErr: true},
		{name: "garbage", token: "not.a.token", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("Verify = %v, %v; want ErrInvalidToken", c, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.AdminID() != "0190-admin" || c.Email != "ada@example.org" || c.Role != RoleAdmin {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

func TestJWKSFetchAndRefreshLimit(t *testing.T) {
	t.Parallel()
	pub1, priv1 := newKey(t)
	pub2, priv2 := newKey(t)
	var (
		served  atomic.Value // JWKS
		fetches atomic.Int32
	)
	served.Store(JWKS{Keys: []JWK{NewJWK(pub1)}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(served.Load())
	}))
	t.Cleanup(srv.Close)

	now := t0.Add(time.Second)
	clock := func() time.Time { return now }
	v, err := NewVerifier(Config{Issuer: "acube-admin", Audience: "acube", JWKSURL: srv.URL,
		MinRefresh: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok1 := sign(t, goodClaims(), Thumbprint(pub1), priv1)
	tok2 := sign(t, goodClaims(), Thumbprint(pub2), priv2)

	steps := []struct {
		name        string
		token       string
		rotate      bool
		advance     time.Duration
		wantErr     error
		wantFetches int32
	}{
		{name: "first token fetches the set", token: tok1, wantFetches: 1},
		{name: "known kid is cached", token: tok1, wantFetches: 1},
		{name: "unknown kid within the refresh limit does not refetch", token: sign(t, goodClaims(), "made-up", priv1), wantErr: ErrUnknownKey, wantFetches: 1},
		{name: "rotated key within the refresh limit is refused", token: tok2, rotate: true, wantErr: ErrUnknownKey, wantFetches: 1},
		{name: "after the limit the set is refetched", token: tok2, advance: time.Minute, wantFetches: 2},
	}
	for _, st := range steps {
		if st.rotate {
			served.Store(JWKS{Keys: []JWK{NewJWK(pub1), NewJWK(pub2)}})
		}
		now = now.Add(st.advance)
		_, err := v.Verify(ctx, st.token)
		if st.wantErr == nil && err != nil {
			t.Fatalf("%s: Verify: %v", st.name, err)
		}
		if st.wantErr != nil && !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: Verify = %v, want %v", st.name, err, st.wantErr)
		}
		if got := fetches.Load(); got != st.wantFetches {
			t.Fatalf("%s: %d fetches, want %d", st.name, got, st.wantFetches)
		}
	}
}

func TestJWKPublicKey(t *testing.T) {
	t.Parallel()
	pub, _ := newKey(t)
	good := NewJWK(pub)
	tests := []struct {
		name    string
		mod     func(*JWK)
		wantErr bool
	}{
		{name: "ok", mod: func(*JWK) {}},
		{name: "rsa kty", mod: func(k *JWK) { k.Kty = "RSA" }, wantErr: true},
		{name: "hmac alg", mod: func(k *JWK) { k.Alg = "HS256" }, wantErr: true},
		{name: "encryption use", mod: func(k *JWK) { k.Use = "enc" }, wantErr: true},
		{name: "short x", mod: func(k *JWK) { k.X = "AAAA" }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := good
			tt.mod(&k)
			_, err := k.PublicKey()
			if (err != nil) != tt.wantErr {
				t.Fatalf("PublicKey err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	kid := Thumbprint(pub)
	v, err := NewVerifier(Config{Issuer: "acube-admin", Audience: "acube",
		StaticKeys: map[string]ed25519.PublicKey{kid: pub}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := Require(v, log, RoleSuperadmin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := FromContext(r.Context())
		if !ok {
			t.Error("no claims in context")
		}
		_, _ = io.WriteString(w, c.Email)
	}))
	super := goodClaims()
	super.Role = RoleSuperadmin

	tests := []struct {
		name       string
		auth       string
		wantStatus int
		wantChall  bool
	}{
		{name: "no header", wantStatus: 401, wantChall: true},
		{name: "basic scheme", auth: "Basic YTpi", wantStatus: 401, wantChall: true},
		{name: "bad token", auth: "Bearer x.y.z", wantStatus: 401, wantChall: true},
		{name: "wrong role", auth: "Bearer " + sign(t, goodClaims(), kid, priv), wantStatus: 403},
		{name: "right role", auth: "bearer " + sign(t, super, kid, priv), wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate") != ""; got != tt.wantChall {
				t.Fatalf("WWW-Authenticate present = %v, want %v", got, tt.wantChall)
			}
			if tt.wantStatus != 200 && !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("body is not a JSON error: %s", w.Body)
			}
		})
	}
}

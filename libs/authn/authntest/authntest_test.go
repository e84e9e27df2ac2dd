package authntest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

// TestIssuerStandsInForTheAdminService: the services' tests trust this
// stand-in because the real verifier accepts its tokens through its
// JWKS over HTTP, with the session's claims, and the real revocation
// feed refuses them once Revoke has published on the ADMIN stream.
func TestIssuerStandsInForTheAdminService(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	nc, js, err := stream.Connect(srv.URL(), "authntest", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	DeclareAdminStream(t, js)

	rev, err := authn.NewRevocations(authn.RevocationsConfig{Name: "authntest", Registerer: prometheus.NewRegistry(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Go(t, "revocation feed", func(ctx context.Context) error { return rev.Run(ctx, js) })
	testkit.Eventually(t, "revocation feed current", rev.Current)

	iss := NewIssuer(t)
	v, err := authn.NewVerifier(authn.Config{Issuer: "acube-admin", Audience: "acube", JWKSURL: iss.JWKSURL, Revocations: rev})
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Now().Add(-time.Minute).Truncate(time.Second)
	kept, revoked := NewSession("admin"), NewSession("viewer")
	if kept.AdminID == revoked.AdminID || kept.ID == revoked.ID {
		t.Fatal("two sessions share an admin or session id")
	}
	claims, err := v.Verify(t.Context(), iss.Token(t, revoked, iat))
	if err != nil {
		t.Fatalf("the verifier refuses the stand-in's token: %v", err)
	}
	if claims.AdminID() != revoked.AdminID.String() || claims.SessionID != revoked.ID || claims.Role != "viewer" {
		t.Errorf("claims %+v, want admin %s session %s role viewer", claims, revoked.AdminID, revoked.ID)
	}

	Revoke(t, js, events.SessionsRevoked{AdminID: revoked.AdminID, SessionID: revoked.ID, NotBefore: time.Now(), Reason: events.RevokeReasonLogout})
	testkit.Eventually(t, "the revoked session's token refused", func() bool {
		_, err := v.Verify(t.Context(), iss.Token(t, revoked, iat))
		return errors.Is(err, authn.ErrRevoked)
	})
	if _, err := v.Verify(t.Context(), iss.Token(t, kept, iat)); err != nil {
		t.Errorf("another session's token refused after the revocation: %v", err)
	}
	other := NewIssuer(t)
	if _, err := v.Verify(t.Context(), other.Token(t, kept, iat)); !errors.Is(err, authn.ErrInvalidToken) {
		t.Errorf("a token signed by another issuer's key = %v, want ErrInvalidToken", err)
	}
}

// TestIssuerStaticKeysAndForgery: a verifier given PublicKeys accepts
// what Sign signs, claims as given, and refuses what Forge signs.
func TestIssuerStaticKeysAndForgery(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(t)
	v, err := authn.NewVerifier(authn.Config{Issuer: "acube-admin", Audience: "acube", StaticKeys: iss.PublicKeys()})
	if err != nil {
		t.Fatal(err)
	}
	c := Claims(NewSession(authn.RoleAdmin), time.Now().Add(-time.Second))
	c.Email = "eve@example.org"
	got, err := v.Verify(t.Context(), iss.Sign(t, c))
	if err != nil {
		t.Fatalf("Sign: the verifier refuses it: %v", err)
	}
	if got.Email != "eve@example.org" || got.Role != authn.RoleAdmin {
		t.Errorf("claims %+v, want the ones signed", got)
	}
	if _, err := v.Verify(t.Context(), iss.Forge(t, c)); err == nil {
		t.Error("Forge: the verifier accepted a token signed by another key")
	}
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/authn/authntest"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationRevokedAdminTokens (issue 13, finding 2): the running
// exporter refuses the token of a logged-out session within a second of
// the admin.sessions.revoked event and keeps serving the admin's other
// session; a disabled admin's older tokens are refused, a newer one is
// not; a restarted exporter rebuilds the revocations from the stream.
func TestIntegrationRevokedAdminTokens(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	iss := authntest.NewIssuer(t)
	env["ADMIN_JWKS_URL"] = iss.JWKSURL
	nc, err := nats.Connect(env["NATS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	authntest.DeclareAdminStream(t, js)
	var logs testkit.SyncBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service logs:\n%s", logs.String())
		}
	})
	base := "http://" + env["EXPORTER_ADDR"]
	api := apitest.New(t).Client() // the API's answers are checked against the OpenAPI document
	start := func() (stop func()) {
		svc := testkit.Go(t, "the exporter", func(ctx context.Context) error { return run(ctx, nil, libconfig.Map(env), &logs) })
		return func() {
			if err := svc.Stop(); err != nil {
				t.Errorf("run after shutdown: %v", err)
			}
		}
	}
	status := func(token string) int {
		req, err := http.NewRequest(http.MethodGet, base+"/api/admin/exports", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := api.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// until polls until token gets want and says how long it took; the
	// bound only stops a broken test from hanging.
	until := func(token string, want int) time.Duration {
		t.Helper()
		begin := time.Now()
		testkit.EventuallyErr(t, fmt.Sprintf("the token to get %d", want), func() error {
			if got := status(token); got != want {
				return fmt.Errorf("status %d", got)
			}
			return nil
		}, testkit.Interval(5*time.Millisecond))
		return time.Since(begin)
	}

	laptop := authntest.NewSession(authn.RoleAdmin)
	phone := laptop
	phone.ID = uuid.NewString()
	issued := time.Now().Add(-time.Minute)
	laptopTok, phoneTok := iss.Token(t, laptop, issued), iss.Token(t, phone, issued)

	stop := start()
	until(laptopTok, http.StatusOK)
	authntest.Revoke(t, js, events.SessionsRevoked{AdminID: laptop.AdminID, SessionID: laptop.ID, NotBefore: time.Now(), Reason: events.RevokeReasonLogout})
	took := until(laptopTok, http.StatusUnauthorized)
	t.Logf("logout refused at the exporter after %s", took)
	if took > time.Second {
		t.Errorf("logout took %s to reach the exporter, want within a second", took)
	}
	if got := status(phoneTok); got != http.StatusOK {
		t.Errorf("the admin's other session after a logout: %d, want 200", got)
	}
	disabledAt := time.Now()
	authntest.Revoke(t, js, events.SessionsRevoked{AdminID: laptop.AdminID, NotBefore: disabledAt, Reason: events.RevokeReasonDisabled})
	until(phoneTok, http.StatusUnauthorized)
	fresh := phone
	fresh.ID = uuid.NewString()
	freshTok := iss.Token(t, fresh, authn.RevokeBefore(disabledAt))
	if got := status(freshTok); got != http.StatusOK {
		t.Errorf("token issued after the disable's NotBefore: %d, want 200", got)
	}

	// A restarted exporter knows nothing until it has replayed the
	// revocations; then it refuses and accepts the same tokens.
	stop()
	stop = start()
	defer stop()
	until(freshTok, http.StatusOK)
	for name, tok := range map[string]string{"logged-out session": laptopTok, "disabled admin": phoneTok} {
		if got := status(tok); got != http.StatusUnauthorized {
			t.Errorf("restarted exporter, %s: %d, want 401", name, got)
		}
	}
}

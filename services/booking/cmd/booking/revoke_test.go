package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/authn/authntest"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationRevokedAdminTokens (issue 13, finding 2): the running
// service refuses the token of a logged-out session within a second of
// the admin.sessions.revoked event and keeps serving the admin's other
// session; once the admin is disabled it refuses every older token but
// not one issued after; and before it has read the revocations (ADMIN
// missing) it answers 503 rather than trust a token it cannot check.
func TestIntegrationRevokedAdminTokens(t *testing.T) {
	t.Parallel()
	h := prepare(t)
	iss := authntest.NewIssuer(t)
	h.env["ADMIN_JWKS_URL"] = iss.JWKSURL
	h.run()
	nc, err := nats.Connect(h.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	laptop := authntest.NewSession(authn.RoleAdmin)
	phone := laptop
	phone.ID = uuid.NewString()
	issued := time.Now().Add(-time.Minute)
	laptopTok, phoneTok := iss.Token(t, laptop, issued), iss.Token(t, phone, issued)
	status := func(token string) int {
		req, err := http.NewRequest(http.MethodGet, h.base+"/api/sessions", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := h.api.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	h.waitFor("503 while ADMIN is missing", func() bool { return status(laptopTok) == http.StatusServiceUnavailable })
	authntest.DeclareAdminStream(t, js)
	h.waitFor("200 once the revocations are read", func() bool { return status(laptopTok) == http.StatusOK })

	// until polls finely until token gets want and says how long it took.
	until := func(token string, want int) time.Duration {
		start := time.Now()
		testkit.Eventually(t, fmt.Sprintf("the token to get %d", want), func() bool { return status(token) == want },
			testkit.Interval(5*time.Millisecond))
		return time.Since(start)
	}
	authntest.Revoke(t, js, events.SessionsRevoked{AdminID: laptop.AdminID, SessionID: laptop.ID, NotBefore: time.Now(), Reason: events.RevokeReasonLogout})
	took := until(laptopTok, http.StatusUnauthorized)
	t.Logf("logout refused at booking after %s", took)
	if took > time.Second {
		t.Errorf("logout took %s to reach booking, want within a second", took)
	}
	if got := status(phoneTok); got != http.StatusOK {
		t.Errorf("the admin's other session after a logout: %d, want 200", got)
	}

	disabledAt := time.Now()
	authntest.Revoke(t, js, events.SessionsRevoked{AdminID: laptop.AdminID, NotBefore: disabledAt, Reason: events.RevokeReasonDisabled})
	took = until(phoneTok, http.StatusUnauthorized)
	t.Logf("disable refused at booking after %s", took)
	if took > time.Second {
		t.Errorf("disable took %s to reach booking, want within a second", took)
	}
	fresh := phone
	fresh.ID = uuid.NewString()
	if got := status(iss.Token(t, fresh, authn.RevokeBefore(disabledAt))); got != http.StatusOK {
		t.Errorf("token issued after the disable's NotBefore: %d, want 200", got)
	}
}

package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/authn/authntest"
	"github.com/acube/platform/libs/natstest"
)

// TestIntegrationRevokedAdminTokens (issue 13, finding 2): before it has
// read the revocations (ADMIN missing) the running service answers 503
// rather than trust a token it cannot check; then it keeps what
// authntest.CheckRevocations checks.
func TestIntegrationRevokedAdminTokens(t *testing.T) {
	t.Parallel()
	h := prepare(t)
	iss := authntest.NewIssuer(t)
	h.env["ADMIN_JWKS_URL"] = iss.JWKSURL
	h.run()
	_, js := natstest.JetStream(t, h.nats.URL())

	status := authntest.Status(t, h.api, h.base+"/api/sessions")
	tok := iss.Token(t, authntest.NewSession(authn.RoleAdmin), time.Now().Add(-time.Minute))
	h.waitFor("503 while ADMIN is missing", func() bool { return status(tok) == http.StatusServiceUnavailable })
	authntest.DeclareAdminStream(t, js)
	authntest.CheckRevocations(t, iss, js, "booking", status)
}

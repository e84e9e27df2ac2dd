package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/authn/authntest"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/testkit"
)

// TestIntegrationRevokedAdminTokens (issue 13, finding 2): the running
// exporter keeps what authntest.CheckRevocations checks, and a restarted
// exporter rebuilds the revocations from the stream.
func TestIntegrationRevokedAdminTokens(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	iss := authntest.NewIssuer(t)
	env["ADMIN_JWKS_URL"] = iss.JWKSURL
	_, js := natstest.JetStream(t, env["NATS_URL"])
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
	status := authntest.Status(t, api, base+"/api/admin/exports")

	stop := start()
	tokens := authntest.CheckRevocations(t, iss, js, "the exporter", status)

	// A restarted exporter knows nothing until it has replayed the
	// revocations; then it refuses and accepts the same tokens.
	stop()
	stop = start()
	defer stop()
	testkit.Eventually(t, "the fresh token to get 200", func() bool { return status(tokens.Fresh) == http.StatusOK })
	for name, tok := range map[string]string{"logged-out session": tokens.LoggedOut, "disabled admin": tokens.Disabled} {
		if got := status(tok); got != http.StatusUnauthorized {
			t.Errorf("restarted exporter, %s: %d, want 401", name, got)
		}
	}
}

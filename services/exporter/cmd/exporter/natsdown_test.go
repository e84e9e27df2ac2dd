package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/authn/authntest"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/testkit"
)

// readiness is the body of /readyz.
type readiness struct {
	Status  string            `json:"status"`
	Details map[string]string `json:"details"`
}

func readyz(base string) (int, readiness) {
	var body readiness
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, body
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestIntegrationStartsWithNATSDown: the exporter starts while NATS is
// down and answers /readyz 200 with NATS reported degraded; admin requests
// get 503 until it has read the token revocations; once NATS is up it
// declares EXPORTER, accepts an export and runs it, and the completion
// event arrives there. Before the lifecycle, start failed
// with "declare stream EXPORTER: context deadline exceeded".
func TestIntegrationStartsWithNATSDown(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	ns.Shutdown()
	adm := authntest.NewIssuer(t)
	env := map[string]string{
		"DATABASE_URL":   migratedDB(t).AppURL,
		"NATS_URL":       ns.URL(),
		"EXPORTER_ADDR":  testkit.FreeAddr(t),
		"EXPORT_POLL":    "50ms",
		"SHUTDOWN_GRACE": "5s",
		"ADMIN_JWKS_URL": adm.JWKSURL,
	}
	ctx := context.Background()
	var logs testkit.SyncBuffer
	t.Cleanup(func() {
		// Background work (the workers, the purger, the relay) only logs
		// its failures: a grant the app role lacks would go unseen.
		if strings.Contains(logs.String(), "SQLSTATE 42501") {
			t.Error("the service was refused a privilege (SQLSTATE 42501)")
		}
		if t.Failed() {
			t.Logf("service logs:\n%s", logs.String())
		}
	})

	svc := testkit.Go(t, "the exporter", func(ctx context.Context) error { return run(ctx, nil, libconfig.Map(env), &logs) })

	base := "http://" + env["EXPORTER_ADDR"]
	api := apitest.New(t).Client() // the API's answers are checked against the OpenAPI document
	var body readiness
	testkit.EventuallyErr(t, "/readyz 200 with NATS down", func() error {
		var code int
		if code, body = readyz(base); code != http.StatusOK {
			return fmt.Errorf("/readyz %d %+v", code, body)
		}
		return nil
	}, testkit.While(svc.Alive))
	if body.Status != "degraded" || body.Details["nats"] == "ok" || body.Details["streams"] == "ok" {
		t.Fatalf("/readyz with NATS down = %+v, want degraded with nats and streams not ok", body)
	}

	requestExport := func() int {
		req, err := http.NewRequest(http.MethodPost, base+"/api/admin/bulk/export/audit-logs", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adm.Token(t, authntest.NewSession(authn.RoleSuperadmin), time.Now()))
		req.Header.Set("Content-Type", "application/json")
		resp, err := api.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Admin requests fail closed while the exporter has not read the
	// token revocations, which come through NATS: the token could be a
	// disabled admin's (libs/authn.Revocations).
	if code := requestExport(); code != http.StatusServiceUnavailable {
		t.Fatalf("export request with NATS down = %d, want 503", code)
	}

	ns.Restart()
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The admin service declares ADMIN, where the revocations are; the
	// test stands in for it.
	authntest.DeclareAdminStream(t, js)
	testkit.EventuallyErr(t, "streams declared once NATS is back", func() error {
		if code, body := readyz(base); body.Details["streams"] != "ok" {
			return fmt.Errorf("/readyz %d %+v", code, body)
		}
		return nil
	}, testkit.While(svc.Alive))
	testkit.EventuallyErr(t, "an export accepted once NATS is back", func() error {
		if code := requestExport(); code != http.StatusAccepted {
			return fmt.Errorf("export request = %d, want 202", code)
		}
		return nil
	}, testkit.While(svc.Alive))
	testkit.EventuallyErr(t, "exporter.export.completed in EXPORTER", func() error {
		s, err := js.Stream(ctx, "EXPORTER")
		if err == nil {
			_, err = s.GetLastMsgForSubject(ctx, "exporter.export.completed")
		}
		return err
	}, testkit.While(svc.Alive))
	// The running service logs the export as the seed's runbook greps
	// for it.
	lines := logtest.Parse(t, logs.String())
	for _, msg := range []string{"BACKGROUND JOB started", "BACKGROUND JOB completed"} {
		if found := logtest.Find(lines, msg, map[string]any{"kind": "audit_export"}); len(found) != 1 {
			t.Errorf("%d %q lines for the audit export in the service log, want 1", len(found), msg)
		}
	}
	if err := svc.Stop(); err != nil {
		t.Fatalf("run after shutdown: %v", err)
	}
}

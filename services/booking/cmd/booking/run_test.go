package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acube/platform/libs/apispec/apitest"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/booking/internal/migrations"
)

// TestIntegrationServeAndShutdown starts booking with run() as main
// does, from an environment of its own: it logs its configuration with the
// secrets masked, answers its probes, metrics and API, and returns nil
// when its context ends, as on SIGTERM, after which nothing listens.
func TestIntegrationServeAndShutdown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewMigratedService(t, schema, appGroup, migrations.Sets()...)
	// The server trusts local logins: the password only shows whether
	// the log masks it.
	const password, linkSecret = "pw-that-must-not-be-logged", "link-secret-that-must-not-be-logged!"
	u, err := url.Parse(db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	// ADMIN, whose token revocations booking follows, is the admin
	// service's: the test declares it, as the admin would.
	ns := natstest.Start(t)
	_, js := natstest.JetStream(t, ns.URL())
	if err := stream.EnsureAll(context.Background(), js, stream.Admin(1)); err != nil {
		t.Fatal(err)
	}
	addr := testkit.FreeAddr(t)
	env := map[string]string{
		"BOOKING_ADDR":        addr,
		"DATABASE_URL":        u.String(),
		"NATS_URL":            ns.URL(),
		"BOOKING_LINK_SECRET": linkSecret,
		"BOOKING_DATA_DIR":    t.TempDir(),
		"SHUTDOWN_GRACE":      "5s",
	}
	logs := &logtest.Buffer{}
	svc := testkit.Go(t, "booking", func(ctx context.Context) error { return run(ctx, libconfig.Map(env), logs) })
	base := "http://" + addr
	// 200 comes first, degraded while the streams are declared and the
	// jobs consumer binds; then every detail is ok.
	testkit.Eventually(t, "/readyz ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"status":"ready"`)
	}, testkit.While(svc.Alive), testkit.Explain(func() string { return "service logs:\n" + logs.String() }))

	// The API's answers are checked against the OpenAPI document; the
	// probes and metrics are not in it.
	api := apitest.New(t).Client()
	tests := []struct {
		path     string
		client   *http.Client
		want     int
		contains string
	}{
		{path: "/healthz", client: http.DefaultClient, want: http.StatusOK},
		{path: "/readyz", client: http.DefaultClient, want: http.StatusOK, contains: `"status":"ready"`},
		{path: "/api/events", client: api, want: http.StatusOK},
		{path: "/api/sessions", client: api, want: http.StatusUnauthorized},
		{path: "/nope", client: api, want: http.StatusNotFound},
		// After the requests above, which it counts.
		{path: "/metrics", client: http.DefaultClient, want: http.StatusOK, contains: `http_requests_total{method="GET",route="/api/events",status="200"}`},
	}
	for _, tt := range tests {
		resp, err := tt.client.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.contains) {
			t.Errorf("GET %s = %d %.300s, want %d with %q", tt.path, resp.StatusCode, body, tt.want, tt.contains)
		}
	}

	if err := svc.Stop(); err != nil {
		t.Fatalf("run after the shutdown: %v", err)
	}
	if resp, err := http.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after the shutdown = %d, want no listener", resp.StatusCode)
	}
	started := logtest.Find(logs.Lines(t), "starting", nil)
	if len(started) != 1 {
		t.Fatalf("%d starting lines, want 1:\n%s", len(started), logs.String())
	}
	if got := started[0].Str("database_url"); !strings.Contains(got, "xxxxx") || strings.Contains(got, password) {
		t.Errorf("starting line logs database_url %q, want the password masked", got)
	}
	if strings.Contains(logs.String(), password) || strings.Contains(logs.String(), linkSecret) {
		t.Errorf("a secret is in the log:\n%s", logs.String())
	}
}

// TestRunRefusesBadInput: a configuration or link secret that cannot work
// stops run before it opens a connection, with an error naming what is
// wrong.
func TestRunRefusesBadInput(t *testing.T) {
	t.Parallel()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbled := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbled, "link-secret"), []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := t.TempDir()
	if err := os.WriteFile(filepath.Join(short, "link-secret"), []byte("0badc0de\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "unparsable grace", env: map[string]string{"SHUTDOWN_GRACE": "soon"}, want: "SHUTDOWN_GRACE"},
		{name: "relative base url", env: map[string]string{"PUBLIC_BASE_URL": "/book"}, want: "PUBLIC_BASE_URL"},
		{name: "short link secret", env: map[string]string{"BOOKING_LINK_SECRET": "short"}, want: "BOOKING_LINK_SECRET"},
		{name: "chunks too large", env: map[string]string{"BOOKING_JOB_CHUNK_SIZE": "1000"}, want: "BOOKING_JOB_CHUNK_SIZE"},
		{name: "bad trusted proxy", env: map[string]string{"BOOKING_TRUSTED_PROXIES": "gateway"}, want: "BOOKING_TRUSTED_PROXIES"},
		{name: "bad log level", env: map[string]string{"LOG_LEVEL": "chatty"}, want: "LOG_LEVEL"},
		{name: "data dir is a file", env: map[string]string{"BOOKING_DATA_DIR": notADir}, want: "link secret"},
		{name: "garbled generated secret", env: map[string]string{"BOOKING_DATA_DIR": garbled}, want: "read link secret"},
		{name: "generated secret too short", env: map[string]string{"BOOKING_DATA_DIR": short}, want: "at least 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), libconfig.Map(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

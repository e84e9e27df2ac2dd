package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/apispec/apitest"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/exporter/internal/migrations"
)

// migratedDB is the exporter's database as in production: migrated as
// `exporter migrate` migrates it, by the schema's owner, for the app role
// to serve (a clone of pgtest's template; migrate_test.go runs the step).
func migratedDB(t *testing.T) pgtest.Service {
	t.Helper()
	return pgtest.NewMigratedService(t, schema, appGroup, migrations.Sets()...)
}

// testEnv is a serving exporter's environment, and its database.
func testEnv(t *testing.T) (map[string]string, pgtest.Service) {
	t.Helper()
	db := migratedDB(t)
	return map[string]string{
		"DATABASE_URL":   db.AppURL,
		"NATS_URL":       natstest.Start(t).URL(),
		"EXPORTER_ADDR":  testkit.FreeAddr(t),
		"SHUTDOWN_GRACE": "5s",
	}, db
}

func TestIntegrationServeAndShutdown(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	var logs testkit.SyncBuffer
	svc := testkit.Go(t, "the exporter", func(ctx context.Context) error { return run(ctx, nil, libconfig.Map(env), &logs) })

	base := "http://" + env["EXPORTER_ADDR"]
	testkit.WaitHTTP(t, base+"/readyz", http.StatusOK, testkit.While(svc.Alive),
		testkit.Explain(func() string { return "service logs:\n" + logs.String() }))
	// The API's answers, and the 404 of a path it does not have, are
	// checked against the OpenAPI document; the probes are not in it.
	api := apitest.New(t).Client()
	tests := []struct {
		path   string
		client *http.Client
		want   int
	}{
		{path: "/healthz", client: http.DefaultClient, want: http.StatusOK},
		{path: "/metrics", client: http.DefaultClient, want: http.StatusOK},
		{path: "/api/admin/exports", client: api, want: http.StatusUnauthorized},
		{path: "/nope", client: api, want: http.StatusNotFound},
	}
	for _, tt := range tests {
		resp, err := tt.client.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
	if err := svc.Stop(); err != nil {
		t.Fatalf("run after shutdown: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop in the logs:\n%s", logs.String())
	}
}

func TestIntegrationRebuildCommand(t *testing.T) {
	t.Parallel()
	env, db := testEnv(t)
	// The rebuild replaces the projection's table: it runs as the owner.
	env["MIGRATE_DATABASE_URL"] = db.OwnerURL
	var logs testkit.SyncBuffer
	if err := run(context.Background(), []string{"rebuild-audit"}, libconfig.Map(env), &logs); err != nil {
		t.Fatalf("rebuild-audit: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "audit projection rebuilt") {
		t.Errorf("no rebuild report in the logs:\n%s", logs.String())
	}
	// The owner made the new table; the app role serves from it.
	ctx := context.Background()
	app, err := pgx.Connect(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	var read, write bool
	if err := app.QueryRow(ctx, `SELECT has_table_privilege('exporter.audit_log', 'SELECT'), has_table_privilege('exporter.audit_log', 'INSERT')`).Scan(&read, &write); err != nil {
		t.Fatal(err)
	}
	if !read || !write {
		t.Errorf("after the rebuild the app role may read audit_log: %t, insert: %t; want both", read, write)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "unknown command", args: []string{"frobnicate"}, want: "unknown command"},
		{name: "bad ttl", env: map[string]string{"EXPORT_TTL": "-1h"}, want: "EXPORT_TTL"},
		{name: "relative base url", env: map[string]string{"PUBLIC_BASE_URL": "/api"}, want: "PUBLIC_BASE_URL"},
		{name: "unparsable lease", env: map[string]string{"EXPORT_LEASE": "soon"}, want: "EXPORT_LEASE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), tt.args, libconfig.Map(tt.env), &testkit.SyncBuffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/apispec/apitest"
	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// syncBuffer is a log sink the server and the test may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// migratedDB is the exporter's database as in production: migrated by
// `exporter migrate` as the schema's owner, for the app role to serve.
func migratedDB(t *testing.T) pgtest.Service {
	t.Helper()
	db := pgtest.NewService(t, schema, appGroup)
	if err := run(context.Background(), []string{"migrate"}, libconfig.Map(map[string]string{"MIGRATE_DATABASE_URL": db.OwnerURL, "LOG_LEVEL": "warn"}), io.Discard); err != nil {
		t.Fatalf("exporter migrate: %v", err)
	}
	return db
}

// testEnv is a serving exporter's environment, and its database.
func testEnv(t *testing.T) (map[string]string, pgtest.Service) {
	t.Helper()
	db := migratedDB(t)
	return map[string]string{
		"DATABASE_URL":   db.AppURL,
		"NATS_URL":       natstest.Start(t).URL(),
		"EXPORTER_ADDR":  freeAddr(t),
		"SHUTDOWN_GRACE": "5s",
	}, db
}

func TestIntegrationServeAndShutdown(t *testing.T) {
	t.Parallel()
	env, _ := testEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, libconfig.Map(env), &logs) }()

	base := "http://" + env["EXPORTER_ADDR"]
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before ready: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
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
	cancel()
	if err := <-done; err != nil {
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
	var logs syncBuffer
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
			err := run(context.Background(), tt.args, libconfig.Map(tt.env), &syncBuffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationEnsureDatabase: the development tools and benchmarks
// call EnsureDatabase on every start, sometimes several at once; it
// creates a missing database once and is a no-op afterwards, racing
// callers included.
func TestIntegrationEnsureDatabase(t *testing.T) {
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/") + "_ensured"
	u.Path = "/" + name
	target := u.String()
	t.Cleanup(func() {
		admin := *u
		admin.Path = "/postgres"
		ctx := context.WithoutCancel(t.Context())
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() { errs <- postgres.EnsureDatabase(t.Context(), target) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent EnsureDatabase: %v", err)
		}
	}
	if err := postgres.EnsureDatabase(t.Context(), target); err != nil {
		t.Errorf("EnsureDatabase of an existing database: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), target)
	if err != nil {
		t.Fatalf("connect to the ensured database: %v", err)
	}
	defer conn.Close(t.Context())
	var got string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&got); err != nil || got != name {
		t.Errorf("current_database() = %q (%v), want %q", got, err, name)
	}
}

func TestEnsureDatabaseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "unparsable url", url: "postgres://%zz", wantErr: "parse database url"},
		{name: "no database", url: "postgres://postgres@127.0.0.1:5432", wantErr: "names no database"},
		{name: "no server", url: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", wantErr: "connect to create database x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := postgres.EnsureDatabase(t.Context(), tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("EnsureDatabase(%q) = %v, want an error with %q", tt.url, err, tt.wantErr)
			}
		})
	}
}

// TestIntegrationOpenRejects: a URL that does not parse fails at Open; a
// serving role that does not exist fails the first connection, so a
// misconfigured service never serves as the login role.
func TestIntegrationOpenRejects(t *testing.T) {
	if _, err := postgres.Open(t.Context(), postgres.Config{URL: "postgres://%zz"}); err == nil || !strings.Contains(err.Error(), "parse database url") {
		t.Errorf("Open with a bad URL = %v", err)
	}
	pool, err := postgres.Open(t.Context(), postgres.Config{URL: pgtest.NewDatabase(t), Role: "acube_no_such_role", MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "set role acube_no_such_role") {
		t.Errorf("Ping as a missing role = %v, want the SET ROLE failure", err)
	}
}

package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// roles are a NOLOGIN role the pool should run as and a LOGIN role that is
// only its member, both named at random: roles are cluster-wide.
type roles struct {
	app, login string
}

// newDatabaseWithRoles creates a database and the two roles, dropped when
// the test ends (the roles after the database, which holds their grants).
func newDatabaseWithRoles(t *testing.T) (string, roles) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	r := roles{app: "test_app_" + suffix, login: "test_login_" + suffix}
	var dbURL string
	t.Cleanup(func() {
		if dbURL == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, withPath(t, dbURL, "/postgres"))
		if err != nil {
			t.Logf("connect to drop roles: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, name := range []string{r.login, r.app} {
			if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+name); err != nil {
				t.Logf("drop role %s: %v", name, err)
			}
		}
	})
	dbURL = pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"CREATE ROLE " + r.app + " NOLOGIN",
		"CREATE ROLE " + r.login + " LOGIN IN ROLE " + r.app,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return dbURL, r
}

func withPath(t *testing.T, raw, path string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = path
	return u.String()
}

func withUser(t *testing.T, raw, user string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	return u.String()
}

// appMigrations creates a table the app role may read but not write.
func appMigrations(app string) postgres.Migrations {
	return postgres.Migrations{Name: "test", FS: fstest.MapFS{
		"00001_things.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (id int PRIMARY KEY);\n" +
			"GRANT USAGE ON SCHEMA svc TO " + app + ";\nGRANT SELECT ON things TO " + app + ";\n")},
	}}
}

func TestIntegrationSetupServesAsRole(t *testing.T) {
	t.Parallel()
	ownerURL, r := newDatabaseWithRoles(t)
	ownerName, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	owner := ownerName.User.Username()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	tests := []struct {
		name        string
		cfg         postgres.Config
		wantCurrent string // current_user of the returned pool
		wantSession string // session_user, the login
		wantWrite   bool   // whether INSERT INTO things succeeds
		wantErr     bool
	}{
		{name: "owner for everything", cfg: postgres.Config{URL: ownerURL},
			wantCurrent: owner, wantSession: owner, wantWrite: true},
		{name: "owner login serving under the role", cfg: postgres.Config{URL: ownerURL, Role: r.app},
			wantCurrent: r.app, wantSession: owner},
		{name: "member login serving, owner migrating", cfg: postgres.Config{URL: withUser(t, ownerURL, r.login), MigrateURL: ownerURL, Role: r.app},
			wantCurrent: r.app, wantSession: r.login},
		{name: "member login without SET ROLE inherits", cfg: postgres.Config{URL: withUser(t, ownerURL, r.login), MigrateURL: ownerURL},
			wantCurrent: r.login, wantSession: r.login},
		{name: "a role that does not exist fails the start", cfg: postgres.Config{URL: ownerURL, Role: r.app + "_missing"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tt.cfg.Schema = "svc"
			pool, err := postgres.Setup(ctx, tt.cfg, log, appMigrations(r.app))
			if tt.wantErr {
				if err == nil {
					pool.Close()
					t.Fatal("Setup succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			defer pool.Close()
			var current, session, tableOwner string
			if err := pool.QueryRow(ctx, `SELECT current_user, session_user, tableowner FROM pg_tables WHERE schemaname = 'svc' AND tablename = 'things'`).Scan(&current, &session, &tableOwner); err != nil {
				t.Fatal(err)
			}
			if current != tt.wantCurrent || session != tt.wantSession {
				t.Errorf("current_user, session_user = %s, %s; want %s, %s", current, session, tt.wantCurrent, tt.wantSession)
			}
			if tableOwner != owner {
				t.Errorf("things is owned by %s, want %s: migrations must run as the owner", tableOwner, owner)
			}
			_, err = pool.Exec(ctx, `INSERT INTO things VALUES (1) ON CONFLICT DO NOTHING`)
			var pgErr *pgconn.PgError
			switch {
			case tt.wantWrite && err != nil:
				t.Errorf("insert: %v", err)
			case !tt.wantWrite && (!errors.As(err, &pgErr) || pgErr.Code != "42501"):
				t.Errorf("insert = %v, want SQLSTATE 42501", err)
			}
		})
	}
}

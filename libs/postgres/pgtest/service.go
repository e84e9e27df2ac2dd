package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Service is one service's database laid out as production's
// (deploy/k8s/infra/postgres/bootstrap.sql and the roles of cluster.yaml):
// a schema owned by a login role that may create tables in it and nothing
// more (no CREATEDB, no CREATEROLE, no CREATE on the database), and an app
// login role that is only a member of the service's app group, the role
// the service's migrations grant to. The service migrates with OwnerURL
// and serves with AppURL, as it does in production.
type Service struct {
	// URL reaches the database as the server's superuser, for set-up and
	// assertions only.
	URL string
	// OwnerURL logs in as Owner: the migrate step's login.
	OwnerURL string
	// AppURL logs in as App: the serving process's login.
	AppURL string
	// Owner and App name the two login roles; Group is the app group.
	Owner, App, Group string
}

// NewService creates a database (see NewDatabase), the owner and app
// login roles, named after schema with a random suffix because roles are
// cluster-wide, and schema owned by the owner. group, the app group the
// service's migrations grant to, is created when missing and left in
// place: its grants live in each test's database, so tests share it. The
// two login roles are dropped after the database when the test ends.
func NewService(t testing.TB, schema, group string) Service {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped under -short")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	s := Service{Owner: schema + "_owner_" + suffix, App: schema + "_app_" + suffix, Group: group}
	// Registered before the database is made, so it runs after the
	// database is dropped (cleanups run last first), when the roles own
	// and hold nothing any more.
	t.Cleanup(func() {
		if s.URL == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, withPath(t, s.URL, "/postgres"))
		if err != nil {
			t.Logf("pgtest: connect to drop roles: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, r := range []string{s.App, s.Owner} {
			if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize()); err != nil {
				t.Logf("pgtest: drop role %s: %v", r, err)
			}
		}
	})
	s.URL = NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", s.URL, err)
	}
	defer conn.Close(ctx)
	id := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	for _, sql := range []string{
		// Tests create the group concurrently: duplicates are fine.
		`DO $$ BEGIN CREATE ROLE ` + id(group) + ` NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
		"CREATE ROLE " + id(s.Owner) + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE",
		"CREATE ROLE " + id(s.App) + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE " + id(group),
		"CREATE SCHEMA " + id(schema) + " AUTHORIZATION " + id(s.Owner),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("pgtest: %s: %v", sql, err)
		}
	}
	s.OwnerURL = withUser(t, s.URL, s.Owner)
	s.AppURL = withUser(t, s.URL, s.App)
	return s
}

func withPath(t testing.TB, raw, path string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", raw, err)
	}
	u.Path = path
	return u.String()
}

func withUser(t testing.TB, raw, user string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", raw, err)
	}
	u.User = url.User(user)
	return u.String()
}

// Tables counts the tables of schema in the service's database, as the
// superuser: what a migration created, or a refused start did not.
func (s Service) Tables(t testing.TB, schema string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

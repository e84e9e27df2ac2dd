package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/postgres"
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
//
// The schema is empty: for tests of the migrate step. A test that needs a
// migrated schema takes NewMigratedService.
func NewService(t testing.TB, schema, group string) Service {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped under -short")
	}
	suffix := randomHex(4)
	s := Service{Owner: schema + "_owner_" + suffix, App: schema + "_app_" + suffix, Group: group}
	// Registered before the database is made, so it runs after the
	// database is dropped (cleanups run last first), when the roles own
	// and hold nothing any more.
	dropRoles(t, s.App, s.Owner)
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
		createRoleOnce(group, "NOLOGIN"),
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

// NewMigratedService is NewService with sets already applied in schema by
// the owner, as the service's migrate step applies them: a clone of a
// template (see NewMigrated), so the test pays for no migration.
//
// The owner is the template's, <schema>_owner_pgtest, shared by every
// clone and left in place like group, since the clones' tables belong to
// it; it has no more rights than NewService's owner. The app login is the
// test's own, a member of group only, dropped when the test ends.
func NewMigratedService(t testing.TB, schema, group string, sets ...postgres.Migrations) Service {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped under -short")
	}
	s := Service{Owner: schema + "_owner_pgtest", App: schema + "_app_" + randomHex(4), Group: group}
	dropRoles(t, s.App)
	s.URL = newDatabase(t, &spec{schema: schema, sets: sets, owner: s.Owner, group: group})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", serverURL(), err)
	}
	defer conn.Close(ctx)
	sql := "CREATE ROLE " + pgx.Identifier{s.App}.Sanitize() + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE " + pgx.Identifier{group}.Sanitize()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	s.OwnerURL = withUser(t, s.URL, s.Owner)
	s.AppURL = withUser(t, s.URL, s.App)
	return s
}

// dropRoles drops roles when the test ends; roles that were never made
// are skipped.
func dropRoles(t testing.TB, roles ...string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL())
		if err != nil {
			t.Logf("pgtest: connect to drop roles: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, r := range roles {
			if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{r}.Sanitize()); err != nil {
				t.Logf("pgtest: drop role %s: %v", r, err)
			}
		}
	})
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

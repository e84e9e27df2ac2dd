package pgtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/postgres"
)

// things is a one-file migration set in schema: a table, the id of the
// transaction that built it (two clones of one build show the same id) and
// grants to group, as a service's migrations grant to its app group.
func things(schema, group, extra string) postgres.Migrations {
	sql := fmt.Sprintf(`-- +goose Up
CREATE TABLE things (id bigserial PRIMARY KEY, note text);
CREATE TABLE built (xid bigint NOT NULL);
INSERT INTO built VALUES (txid_current());
GRANT USAGE ON SCHEMA %[1]s TO %[2]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %[1]s TO %[2]s;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %[1]s TO %[2]s;
%[3]s
`, schema, group, extra)
	return postgres.Migrations{Name: "things", FS: fstest.MapFS{"00001_things.sql": {Data: []byte(sql)}}}
}

// fixture is one test's schema, group and owner names, unique so that its
// templates are its own; the templates and roles are dropped when the
// test ends, after its clones.
type fixture struct {
	schema, group, owner string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped under -short")
	}
	suffix := randomHex(4)
	f := fixture{schema: "pgt_" + suffix, group: "pgt_app_" + suffix}
	f.owner = f.schema + "_owner_pgtest"
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, serverURL())
		if err != nil {
			t.Errorf("connect to drop templates: %v", err)
			return
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'pgtest\_tpl\_%' AND shobj_description(oid, 'pg_database') LIKE '%schema ' || $1 || ',%'`, f.schema)
		if err != nil {
			t.Errorf("list templates: %v", err)
			return
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("list templates: %v", err)
		}
		for _, n := range names {
			if err := dropTemplate(ctx, conn, n); err != nil {
				t.Error(err)
			}
		}
		for _, r := range []string{f.owner, f.group} {
			if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+r); err != nil {
				t.Errorf("drop role %s: %v", r, err)
			}
		}
	})
	return f
}

// query returns the first column of the first row of sql in the database
// at dbURL.
func query[T any](t *testing.T, dbURL, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// templates lists f's templates on the server.
func (f fixture) templates(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'pgtest\_tpl\_%' AND shobj_description(oid, 'pg_database') LIKE '%schema ' || $1 || ',%' ORDER BY 1`, f.schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestSpecName(t *testing.T) {
	base := spec{schema: "s", sets: []postgres.Migrations{things("s", "g", "")}}
	baseName, err := base.name()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		spec       spec
		sameName   bool
		sameFamily bool
	}{
		{"the same sets", spec{schema: "s", sets: []postgres.Migrations{things("s", "g", "")}}, true, true},
		{"a file edited", spec{schema: "s", sets: []postgres.Migrations{things("s", "g", "-- edited")}}, false, true},
		{"another schema", spec{schema: "t", sets: []postgres.Migrations{things("s", "g", "")}}, false, false},
		{"migrated by an owner", spec{schema: "s", owner: "o", group: "g", sets: []postgres.Migrations{things("s", "g", "")}}, false, false},
		{"a set renamed", spec{schema: "s", sets: []postgres.Migrations{{Name: "other", FS: things("s", "g", "").FS}}}, false, false},
		{"a set more", spec{schema: "s", sets: []postgres.Migrations{things("s", "g", ""), {Name: "empty", FS: fstest.MapFS{}}}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.spec.name()
			if err != nil {
				t.Fatal(err)
			}
			if (got == baseName) != tt.sameName {
				t.Errorf("name %s, base %s: same = %v, want %v", got, baseName, got == baseName, tt.sameName)
			}
			if (tt.spec.family() == base.family()) != tt.sameFamily {
				t.Errorf("family %q, base %q: want same = %v", tt.spec.family(), base.family(), tt.sameFamily)
			}
			if len(got) > 63 {
				t.Errorf("name %s is longer than PostgreSQL's 63 bytes", got)
			}
		})
	}
}

func TestIntegrationClonesAreIsolatedAndShareOneBuild(t *testing.T) {
	f := newFixture(t)
	set := things(f.schema, f.group, "")
	// The group the migration grants to; NewMigratedService makes it,
	// NewMigrated leaves it to the caller.
	mustExec(t, serverURL(), createRoleOnce(f.group, "NOLOGIN"))
	a := NewMigrated(t, f.schema, set)
	b := NewMigrated(t, f.schema, set)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	mustExec(t, a, "INSERT INTO "+f.schema+".things (note) VALUES ('only in a')")
	if n := query[int64](t, b, "SELECT count(*) FROM "+f.schema+".things"); n != 0 {
		t.Errorf("b sees %d rows written in a", n)
	}
	if n := query[int64](t, a, "SELECT count(*) FROM "+f.schema+".things"); n != 1 {
		t.Errorf("a sees %d rows, want its 1", n)
	}
	xa := query[int64](t, a, "SELECT xid FROM "+f.schema+".built")
	xb := query[int64](t, b, "SELECT xid FROM "+f.schema+".built")
	if xa != xb {
		t.Errorf("clones migrated by transactions %d and %d: the template was built twice", xa, xb)
	}
	if got := f.templates(t); len(got) != 1 {
		t.Errorf("templates %v, want one", got)
	}
	// The version table is what postgres.Migrate leaves: the clone is
	// migrated, as a service's serving start checks.
	pool, err := postgres.Open(context.Background(), postgres.Config{URL: a, Schema: f.schema})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := postgres.CheckMigrated(context.Background(), pool, f.schema, set); err != nil {
		t.Errorf("clone not migrated: %v", err)
	}
}

func TestIntegrationConcurrentClonesShareOneBuild(t *testing.T) {
	f := newFixture(t)
	set := things(f.schema, f.group, "")
	const n = 6
	xids := make(chan int64, n)
	// Each clone's test builds, or waits for, the template at once; the
	// group's subtests end before its cleanup drops the template.
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				s := NewMigratedService(t, f.schema, f.group, set)
				xids <- query[int64](t, s.AppURL, "SELECT xid FROM "+f.schema+".built")
			})
		}
	})
	close(xids)
	seen := map[int64]int{}
	for x := range xids {
		seen[x]++
	}
	if len(seen) != 1 {
		t.Errorf("builds seen by the clones (xid: clones): %v, want one build", seen)
	}
}

func TestIntegrationEditedMigrationsReplaceTheTemplate(t *testing.T) {
	f := newFixture(t)
	mustExec(t, serverURL(), createRoleOnce(f.group, "NOLOGIN"))
	NewMigrated(t, f.schema, things(f.schema, f.group, ""))
	first := f.templates(t)
	u := NewMigrated(t, f.schema, things(f.schema, f.group, "CREATE TABLE added (id int);"))
	second := f.templates(t)
	if len(first) != 1 || len(second) != 1 || first[0] == second[0] {
		t.Errorf("templates before the edit %v, after %v: want one each, another one", first, second)
	}
	if n := query[int64](t, u, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'added'", f.schema); n != 1 {
		t.Errorf("the edited migration's table is missing from the clone")
	}
}

func TestIntegrationUnfinishedBuildIsRedone(t *testing.T) {
	f := newFixture(t)
	mustExec(t, serverURL(), createRoleOnce(f.group, "NOLOGIN"))
	set := things(f.schema, f.group, "")
	s := spec{schema: f.schema, sets: []postgres.Migrations{set}}
	name, err := s.name()
	if err != nil {
		t.Fatal(err)
	}
	// What a build killed half-way leaves: the database, never marked.
	mustExec(t, serverURL(), "CREATE DATABASE "+name)
	mustExec(t, serverURL(), "COMMENT ON DATABASE "+name+" IS "+quote(s.family()))
	u := NewMigrated(t, f.schema, set)
	if n := query[int64](t, u, "SELECT count(*) FROM "+f.schema+".built"); n != 1 {
		t.Errorf("clone has %d build rows, want 1", n)
	}
}

func TestIntegrationMigratedServiceRoles(t *testing.T) {
	f := newFixture(t)
	set := things(f.schema, f.group, "")
	s := NewMigratedService(t, f.schema, f.group, set)
	if s.Owner != f.owner || s.Group != f.group {
		t.Fatalf("owner %s, group %s; want %s, %s", s.Owner, s.Group, f.owner, f.group)
	}
	if got := query[string](t, s.URL, "SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'things'", f.schema); got != s.Owner {
		t.Errorf("things owned by %s, want %s", got, s.Owner)
	}
	// As the service: the app login serves, the owner migrates, and the
	// owner's migrate step finds nothing to do.
	ctx := context.Background()
	if err := postgres.Up(ctx, postgres.Config{URL: s.OwnerURL, Schema: f.schema}, slog.New(slog.NewTextHandler(io.Discard, nil)), set); err != nil {
		t.Fatalf("migrate as the owner: %v", err)
	}
	pool, err := postgres.OpenMigrated(ctx, postgres.Config{URL: s.AppURL, Schema: f.schema}, set)
	if err != nil {
		t.Fatalf("serve as the app login: %v", err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "INSERT INTO things (note) VALUES ('served')"); err != nil {
		t.Errorf("app login writes: %v", err)
	}
	for _, sql := range []string{
		"CREATE TABLE mine (id int)",
		"INSERT INTO goose_things (version_id, is_applied) VALUES (99, true)",
		"CREATE DATABASE " + f.schema + "_not_allowed",
	} {
		if _, err := pool.Exec(ctx, sql); !isCode(err, "42501") {
			t.Errorf("app login: %s: err %v, want SQLSTATE 42501", sql, err)
		}
	}
	// Two tests, two app logins, one owner.
	other := NewMigratedService(t, f.schema, f.group, set)
	if other.App == s.App || other.Owner != s.Owner || other.URL == s.URL {
		t.Errorf("second service %+v, first %+v: want its own app login and database, the same owner", other, s)
	}
}

func mustExec(t *testing.T, dbURL, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

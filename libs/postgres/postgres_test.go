package postgres_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// group is the app group the test migrations grant to, as a service's
// migrations grant to acube_<service>_app.
const group = "acube_pgtest_app"

// migrations is a set of the first n of three versions, written as a
// service's are: the first grants the app group what it serves with.
func migrations(n int) postgres.Migrations {
	files := []string{
		"-- +goose Up\nCREATE TABLE things (id bigserial PRIMARY KEY);\n" +
			"GRANT USAGE ON SCHEMA svc TO " + group + ";\n" +
			"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA svc TO " + group + ";\n" +
			"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA svc TO " + group + ";\n" +
			"ALTER DEFAULT PRIVILEGES IN SCHEMA svc GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + group + ";\n" +
			"ALTER DEFAULT PRIVILEGES IN SCHEMA svc GRANT USAGE, SELECT ON SEQUENCES TO " + group + ";\n",
		"-- +goose Up\nCREATE TABLE more_things (id int PRIMARY KEY);\n",
		"-- +goose Up\nALTER TABLE things ADD COLUMN name text;\n",
	}
	fsys := fstest.MapFS{}
	for i, f := range files[:n] {
		fsys[[]string{"00001_things.sql", "00002_more.sql", "00003_name.sql"}[i]] = &fstest.MapFile{Data: []byte(f)}
	}
	return postgres.Migrations{Name: "svc", FS: fsys}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// TestIntegrationMigrateAsOwnerServeAsApp is the split of every service's
// start: the migrate step runs as the schema's owner, which has no right
// on the database itself, and the serving pool, as the app role, only
// opens once the schema carries every migration the binary has.
func TestIntegrationMigrateAsOwnerServeAsApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewService(t, "svc", group)
	serve := postgres.Config{URL: db.AppURL, Schema: "svc"}

	// Never migrated: the serving process refuses to start, and says why.
	_, err := postgres.OpenMigrated(ctx, serve, migrations(2))
	var notMigrated *postgres.NotMigratedError
	if !errors.As(err, &notMigrated) || notMigrated.At != 0 || notMigrated.Needs != 2 || !slices.Equal(notMigrated.Pending, []int64{1, 2}) {
		t.Fatalf("OpenMigrated before migrate = %v, want schema svc at version 0 of 2", err)
	}
	if want := "schema svc is at svc version 0, this binary needs 2"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	// The owner migrates; twice is the same as once.
	for range 2 {
		if err := postgres.Up(ctx, postgres.Config{URL: db.OwnerURL, Schema: "svc"}, quiet(), migrations(2)); err != nil {
			t.Fatalf("Up as the owner: %v", err)
		}
	}
	pool, err := postgres.OpenMigrated(ctx, serve, migrations(2))
	if err != nil {
		t.Fatalf("OpenMigrated after migrate: %v", err)
	}
	defer pool.Close()

	var current, tableOwner string
	if err := pool.QueryRow(ctx, `SELECT current_user, tableowner FROM pg_tables WHERE schemaname = 'svc' AND tablename = 'things'`).Scan(&current, &tableOwner); err != nil {
		t.Fatal(err)
	}
	if current != db.App || tableOwner != db.Owner {
		t.Errorf("serving as %s, things owned by %s; want %s and %s", current, tableOwner, db.App, db.Owner)
	}
	tests := []struct {
		name     string
		sql      string
		wantCode string // "" for success
	}{
		{name: "uses its tables", sql: `INSERT INTO things DEFAULT VALUES`},
		{name: "uses tables of later migrations", sql: `INSERT INTO more_things VALUES (1)`},
		{name: "reads the version table", sql: `SELECT count(*) FROM goose_svc`},
		{name: "cannot write the version table", sql: `DELETE FROM goose_svc`, wantCode: "42501"},
		{name: "cannot take a version number", sql: `SELECT nextval('goose_svc_id_seq')`, wantCode: "42501"},
		{name: "cannot create tables", sql: `CREATE TABLE svc.mine (id int)`, wantCode: "42501"},
		{name: "cannot change tables", sql: `ALTER TABLE things ADD COLUMN x int`, wantCode: "42501"},
		{name: "cannot create schemas", sql: `CREATE SCHEMA mine`, wantCode: "42501"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tt.sql)
			if got := pgCode(err); got != tt.wantCode || (tt.wantCode == "" && err != nil) {
				t.Errorf("%s = %v, want SQLSTATE %q", tt.sql, err, tt.wantCode)
			}
		})
	}

	// A newer binary on the old schema: refused until migrated. An older
	// binary on the newer schema: served (a rollout's old replicas).
	if _, err := postgres.OpenMigrated(ctx, serve, migrations(3)); !errors.As(err, &notMigrated) || notMigrated.At != 2 || !slices.Equal(notMigrated.Pending, []int64{3}) {
		t.Errorf("OpenMigrated with a pending version = %v, want version 3 pending", err)
	}
	if err := postgres.Up(ctx, postgres.Config{URL: db.OwnerURL, Schema: "svc"}, quiet(), migrations(3)); err != nil {
		t.Fatalf("Up to 3: %v", err)
	}
	older, err := postgres.OpenMigrated(ctx, serve, migrations(1))
	if err != nil {
		t.Fatalf("an older binary on a newer schema: %v", err)
	}
	older.Close()
}

// TestIntegrationRolesHaveNoDatabaseRights pins the model pgtest mirrors:
// neither login may create databases, roles or schemas, and the owner's
// migrate step works without.
func TestIntegrationRolesHaveNoDatabaseRights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewService(t, "svc", group)
	conn, err := pgx.Connect(ctx, db.URL) // the superuser, for the catalog
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, role := range []string{db.Owner, db.App} {
		var super, createDB, createRole, createOnDB bool
		if err := conn.QueryRow(ctx, `SELECT rolsuper, rolcreatedb, rolcreaterole, has_database_privilege(rolname, current_database(), 'CREATE')
FROM pg_roles WHERE rolname = $1`, role).Scan(&super, &createDB, &createRole, &createOnDB); err != nil {
			t.Fatal(err)
		}
		if super || createDB || createRole || createOnDB {
			t.Errorf("%s: superuser %t, CREATEDB %t, CREATEROLE %t, CREATE on the database %t; want none", role, super, createDB, createRole, createOnDB)
		}
	}
	if err := postgres.Up(ctx, postgres.Config{URL: db.OwnerURL, Schema: "svc"}, quiet(), migrations(1)); err != nil {
		t.Fatalf("Up as an owner without database rights: %v", err)
	}
	// A schema the bootstrap did not make cannot be made by the owner.
	err = postgres.Up(ctx, postgres.Config{URL: db.OwnerURL, Schema: "other"}, quiet(), migrations(1))
	if err == nil || !strings.Contains(err.Error(), "bootstrap") {
		t.Errorf("Up into a missing schema = %v, want an error naming the bootstrap", err)
	}
}

// TestIntegrationServingRole: Config.Role is taken on every connection of
// the serving pool (the admin's), and a role that does not exist fails the
// start rather than the first request.
func TestIntegrationServingRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewService(t, "svc", group)
	if err := postgres.Up(ctx, postgres.Config{URL: db.OwnerURL, Schema: "svc"}, quiet(), migrations(1)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		role        string
		wantCurrent string
		wantErr     bool
	}{
		{name: "inherits the group's rights", wantCurrent: db.App},
		{name: "takes the group", role: group, wantCurrent: group},
		{name: "a missing role fails the start", role: group + "_missing", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, err := postgres.OpenMigrated(ctx, postgres.Config{URL: db.AppURL, Schema: "svc", Role: tt.role}, migrations(1))
			if tt.wantErr {
				if err == nil {
					pool.Close()
					t.Fatal("OpenMigrated succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var current, session string
			if err := pool.QueryRow(ctx, `SELECT current_user, session_user`).Scan(&current, &session); err != nil {
				t.Fatal(err)
			}
			if current != tt.wantCurrent || session != db.App {
				t.Errorf("current_user, session_user = %s, %s; want %s, %s", current, session, tt.wantCurrent, db.App)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO things DEFAULT VALUES`); err != nil {
				t.Errorf("insert: %v", err)
			}
		})
	}
}

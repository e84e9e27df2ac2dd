package stack

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/postgres/pgtest"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestIntegrationBootstrapGivesNoDatabaseRights lays out databases from
// cluster.yaml's roles and bootstrap.sql, as `make run`, the end-to-end
// tests and production do (two at once, and one twice), and checks the
// rights that result on a real server: no role of the model is a
// superuser or may create databases or roles, none has CREATE on the
// database, each schema belongs to its service's owner, and the app login
// is a member of its group and may create nothing in the schema. That the
// services migrate and serve with only these rights is shown by
// tools/e2e, which starts them this way.
func TestIntegrationBootstrapGivesNoDatabaseRights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	urls := []string{pgtest.NewDatabase(t), pgtest.NewDatabase(t)}
	var wg sync.WaitGroup
	errs := make([]error, len(urls))
	for i, u := range urls {
		wg.Go(func() { _, errs[i] = PrepareDatabase(ctx, DatabaseConfig{Root: repoRoot(t), URL: u}) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("PrepareDatabase: %v", err)
		}
	}
	db, err := PrepareDatabase(ctx, DatabaseConfig{Root: repoRoot(t), URL: urls[0]})
	if err != nil {
		t.Fatalf("PrepareDatabase again: %v", err)
	}
	c, _, err := readCluster(filepath.Join(repoRoot(t), PostgresDir))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, urls[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, r := range c.Spec.Managed.Roles {
		var super, createDB, createRole, login, createOnDB bool
		err := conn.QueryRow(ctx, `SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, has_database_privilege(rolname, current_database(), 'CREATE')
FROM pg_roles WHERE rolname = $1`, r.Name).Scan(&super, &createDB, &createRole, &login, &createOnDB)
		if err != nil {
			t.Fatalf("role %s: %v", r.Name, err)
		}
		if super || createDB || createRole || createOnDB {
			t.Errorf("%s: superuser %t, CREATEDB %t, CREATEROLE %t, CREATE on the database %t; want none", r.Name, super, createDB, createRole, createOnDB)
		}
		if login != r.Login {
			t.Errorf("%s: LOGIN %t, cluster.yaml says %t", r.Name, login, r.Login)
		}
	}
	for _, svc := range DBServices() {
		owner, app := DBRoles(svc)
		var schemaOwner string
		var member, appCreates bool
		err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(nspowner), pg_has_role($2, $3, 'MEMBER'), has_schema_privilege($2, nspname, 'CREATE')
FROM pg_namespace WHERE nspname = $1`, svc, app, "acube_"+svc+"_app").Scan(&schemaOwner, &member, &appCreates)
		if err != nil {
			t.Fatalf("schema %s: %v", svc, err)
		}
		if schemaOwner != owner || !member || appCreates {
			t.Errorf("schema %s owned by %s (want %s); %s member of its group %t (want true), may create in it %t (want false)", svc, schemaOwner, owner, app, member, appCreates)
		}
		if u := db.AppURL(svc); !strings.Contains(u, "//"+app+"@") {
			t.Errorf("AppURL(%s) = %s, want login %s", svc, u, app)
		}
	}
}

// TestIntegrationRefusesADatabaseOfTheOldLayout: a database whose service
// schemas the superuser made (a `make run` before the migrate step) is
// refused with the way out, rather than failing later in a migration.
func TestIntegrationRefusesADatabaseOfTheOldLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA booking`); err != nil {
		t.Fatal(err)
	}
	_, err = PrepareDatabase(ctx, DatabaseConfig{Root: repoRoot(t), URL: u})
	if err == nil || !strings.Contains(err.Error(), "schema booking belongs to postgres") || !strings.Contains(err.Error(), "dropdb") {
		t.Fatalf("PrepareDatabase on the old layout = %v, want the owner named and the way out", err)
	}
}

package pgtest

import (
	"context"
	"io"
	"maps"
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging/logtest"
)

// EntryPoint is a service command's entry point as its main calls it: run
// (serve) or migrate, reading only lookupEnv and logging to stdout.
type EntryPoint func(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error

// MigrateStep is a service's two database entry points, for
// CheckMigrateStep.
type MigrateStep struct {
	// Name is the service's command: booking, admin, mailer, exporter.
	Name string
	// Schema is the service's schema, Group the role its migrations grant
	// the use of its tables to.
	Schema, Group string
	// Env is what Serve needs beside DATABASE_URL, which CheckMigrateStep
	// sets to the app role's URL: listen addresses, data directories,
	// secrets.
	Env map[string]string
	// Serve starts the service and returns when it stops; on an unmigrated
	// schema it must fail at once.
	Serve EntryPoint
	// Migrate is `<Name> migrate`; CheckMigrateStep gives it
	// MIGRATE_DATABASE_URL, the schema owner's URL, or nothing.
	Migrate EntryPoint
}

// CheckMigrateStep checks what every service's migrate step promises
// (docs/architecture.md, "Migrations"): as its app role the service
// refuses to start on a schema `<name> migrate` has not migrated, says so,
// and creates nothing; the owner's migrate step, which has no right on the
// database, migrates it, and a second run is a no-op; without
// MIGRATE_DATABASE_URL the step names it. That the migrated service then
// serves is the rest of the service's tests.
func CheckMigrateStep(t *testing.T, s MigrateStep) {
	t.Helper()
	ctx := t.Context()
	db := NewService(t, s.Schema, s.Group)
	env := maps.Clone(s.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["DATABASE_URL"] = db.AppURL
	if err := s.Serve(ctx, libconfig.Map(env), &logtest.Buffer{}); err == nil || !strings.Contains(err.Error(), "run `"+s.Name+" migrate` first") {
		t.Fatalf("serving an unmigrated schema = %v, want an error naming `%s migrate`", err, s.Name)
	}
	if n := db.Tables(t, s.Schema); n != 0 {
		t.Errorf("the refused start left %d tables in schema %s", n, s.Schema)
	}
	for range 2 {
		if err := s.Migrate(ctx, libconfig.Map(map[string]string{"MIGRATE_DATABASE_URL": db.OwnerURL}), io.Discard); err != nil {
			t.Fatalf("%s migrate: %v", s.Name, err)
		}
	}
	if n := db.Tables(t, s.Schema); n == 0 {
		t.Errorf("%s migrate created no tables", s.Name)
	}
	if err := s.Migrate(ctx, libconfig.Map(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL") {
		t.Errorf("%s migrate without the owner's URL = %v, want an error naming MIGRATE_DATABASE_URL", s.Name, err)
	}
}

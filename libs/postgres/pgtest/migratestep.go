package pgtest

import (
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
)

// MigrateStep is a service's two database entry points as its tests call
// them, for CheckMigrateStep.
type MigrateStep struct {
	// Name is the service's command: booking, admin, mailer, exporter.
	Name string
	// Schema is the service's schema, Group the role its migrations grant
	// the use of its tables to.
	Schema, Group string
	// Serve starts the service logged in with appURL and returns when it
	// stops; on an unmigrated schema it must fail at once.
	Serve func(appURL string) error
	// Migrate runs `<Name> migrate` with env: MIGRATE_DATABASE_URL, the
	// schema owner's URL, or nothing.
	Migrate func(env libconfig.LookupEnv) error
}

// CheckMigrateStep checks what every service's migrate step promises
// (docs/architecture.md, "Migrations"): as its app role the service
// refuses to start on a schema `<name> migrate` has not migrated, says so,
// and creates nothing; the owner's migrate step migrates it, and a second
// run is a no-op; without MIGRATE_DATABASE_URL the step names it.
func CheckMigrateStep(t *testing.T, s MigrateStep) {
	t.Helper()
	db := NewService(t, s.Schema, s.Group)
	if err := s.Serve(db.AppURL); err == nil || !strings.Contains(err.Error(), "run `"+s.Name+" migrate` first") {
		t.Fatalf("serving an unmigrated schema = %v, want an error naming `%s migrate`", err, s.Name)
	}
	if n := db.Tables(t, s.Schema); n != 0 {
		t.Errorf("the refused start left %d tables in schema %s", n, s.Schema)
	}
	for range 2 {
		if err := s.Migrate(libconfig.Map(map[string]string{"MIGRATE_DATABASE_URL": db.OwnerURL})); err != nil {
			t.Fatalf("%s migrate: %v", s.Name, err)
		}
	}
	if n := db.Tables(t, s.Schema); n == 0 {
		t.Errorf("%s migrate created no tables", s.Name)
	}
	if err := s.Migrate(libconfig.Map(nil)); err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL") {
		t.Errorf("%s migrate without the owner's URL = %v, want an error naming MIGRATE_DATABASE_URL", s.Name, err)
	}
}

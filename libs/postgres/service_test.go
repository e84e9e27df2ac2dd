package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationServiceSteps: a service's serving start refuses an
// unmigrated schema naming `<name> migrate`; its migrate step logs what it
// does and migrates as the owner, after which the serving start opens the
// pool on the service's schema whatever the config says.
func TestIntegrationServiceSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewService(t, "svc", group)
	svc := postgres.Service{Name: "svc", Schema: "svc", Sets: []postgres.Migrations{migrations(2)}}

	_, err := svc.Open(ctx, postgres.Config{URL: db.AppURL})
	if !errors.As(err, new(*postgres.NotMigratedError)) || !strings.Contains(err.Error(), "run `svc migrate` first") {
		t.Fatalf("Open before migrate = %v, want a NotMigratedError naming `svc migrate`", err)
	}

	log, buf := logtest.NewLogger()
	if err := svc.Up(ctx, log, db.OwnerURL, "MIGRATE_DATABASE_URL", "***"); err != nil {
		t.Fatalf("Up as the owner: %v", err)
	}
	type line struct{ msg, schema, url string }
	var got []line
	for _, l := range buf.Lines(t) {
		if l.Msg() == "migrating" || l.Msg() == "migrated" {
			got = append(got, line{l.Msg(), l.Str("schema"), l.Str("MIGRATE_DATABASE_URL")})
		}
	}
	if want := []line{{"migrating", "", "***"}, {"migrated", "svc", ""}}; !slices.Equal(got, want) {
		t.Errorf("Up's log lines = %+v, want %+v", got, want)
	}

	pool, err := svc.Open(ctx, postgres.Config{URL: db.AppURL, Schema: "elsewhere"})
	if err != nil {
		t.Fatalf("Open after migrate: %v", err)
	}
	defer pool.Close()
	var path string
	if err := pool.QueryRow(ctx, `SHOW search_path`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	if path != "svc" {
		t.Errorf("search_path = %q, want svc", path)
	}
}

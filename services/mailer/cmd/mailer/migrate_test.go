package main

import (
	"context"
	"io"
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationServesOnlyAMigratedSchema: as its app role, mailer
// refuses to start on a schema `mailer migrate` has not migrated, says
// so, and creates nothing; the owner's migrate step, which has no right on
// the database, migrates it (again a no-op), and then mailer serves (the
// harness's tests).
func TestIntegrationServesOnlyAMigratedSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewService(t, schema, appGroup)
	err := run(ctx, libconfig.Map(map[string]string{
		"DATABASE_URL": db.AppURL, "MAILER_ADDR": "127.0.0.1:0", "MAILER_LINK_SECRET": testLinkSecret,
	}), &logtest.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "run `mailer migrate` first") {
		t.Fatalf("serving an unmigrated schema = %v, want an error naming `mailer migrate`", err)
	}
	if n := db.Tables(t, schema); n != 0 {
		t.Errorf("the refused start left %d tables in schema %s", n, schema)
	}
	owner := libconfig.Map(map[string]string{"MIGRATE_DATABASE_URL": db.OwnerURL})
	for range 2 {
		if err := migrate(ctx, owner, io.Discard); err != nil {
			t.Fatalf("mailer migrate: %v", err)
		}
	}
	if n := db.Tables(t, schema); n == 0 {
		t.Error("mailer migrate created no tables")
	}
	if err := migrate(ctx, libconfig.Map(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL") {
		t.Errorf("mailer migrate without the owner's URL = %v, want an error naming MIGRATE_DATABASE_URL", err)
	}
}

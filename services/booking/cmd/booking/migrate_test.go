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

// TestIntegrationServesOnlyAMigratedSchema: as its app role, booking
// refuses to start on a schema `booking migrate` has not migrated, says
// so, and creates nothing; the owner's migrate step, which has no right on
// the database, migrates it (again a no-op), and then booking serves (the
// harness's tests).
func TestIntegrationServesOnlyAMigratedSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewService(t, schema, appGroup)
	err := run(ctx, libconfig.Map(map[string]string{
		"DATABASE_URL": db.AppURL, "BOOKING_DATA_DIR": t.TempDir(), "BOOKING_ADDR": "127.0.0.1:0",
	}), &logtest.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "run `booking migrate` first") {
		t.Fatalf("serving an unmigrated schema = %v, want an error naming `booking migrate`", err)
	}
	if n := db.Tables(t, schema); n != 0 {
		t.Errorf("the refused start left %d tables in schema %s", n, schema)
	}
	owner := libconfig.Map(map[string]string{"MIGRATE_DATABASE_URL": db.OwnerURL})
	for range 2 {
		if err := migrate(ctx, owner, io.Discard); err != nil {
			t.Fatalf("booking migrate: %v", err)
		}
	}
	if n := db.Tables(t, schema); n == 0 {
		t.Error("booking migrate created no tables")
	}
	if err := migrate(ctx, libconfig.Map(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL") {
		t.Errorf("booking migrate without the owner's URL = %v, want an error naming MIGRATE_DATABASE_URL", err)
	}
}

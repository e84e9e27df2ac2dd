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

// TestIntegrationServesOnlyAMigratedSchema: as its app role, exporter
// refuses to start on a schema `exporter migrate` has not migrated, says
// so, and creates nothing; the owner's migrate step, which has no right on
// the database, migrates it (again a no-op), and then exporter serves (the
// harness's tests).
func TestIntegrationServesOnlyAMigratedSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewService(t, schema, appGroup)
	err := run(ctx, nil, libconfig.Map(map[string]string{
		"DATABASE_URL": db.AppURL, "EXPORTER_ADDR": "127.0.0.1:0",
	}), &logtest.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "run `exporter migrate` first") {
		t.Fatalf("serving an unmigrated schema = %v, want an error naming `exporter migrate`", err)
	}
	if n := db.Tables(t, schema); n != 0 {
		t.Errorf("the refused start left %d tables in schema %s", n, schema)
	}
	owner := libconfig.Map(map[string]string{"MIGRATE_DATABASE_URL": db.OwnerURL})
	for range 2 {
		if err := run(ctx, []string{"migrate"}, owner, io.Discard); err != nil {
			t.Fatalf("exporter migrate: %v", err)
		}
	}
	if n := db.Tables(t, schema); n == 0 {
		t.Error("exporter migrate created no tables")
	}
	if err := run(ctx, []string{"migrate"}, libconfig.Map(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "MIGRATE_DATABASE_URL") {
		t.Errorf("exporter migrate without the owner's URL = %v, want an error naming MIGRATE_DATABASE_URL", err)
	}
}

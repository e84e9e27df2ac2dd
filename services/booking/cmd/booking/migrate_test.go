package main

import (
	"testing"

	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationServesOnlyAMigratedSchema: see pgtest.CheckMigrateStep.
func TestIntegrationServesOnlyAMigratedSchema(t *testing.T) {
	t.Parallel()
	pgtest.CheckMigrateStep(t, pgtest.MigrateStep{Name: "booking", Schema: schema, Group: appGroup, Serve: run, Migrate: migrate,
		Env: map[string]string{"BOOKING_DATA_DIR": t.TempDir(), "BOOKING_ADDR": "127.0.0.1:0"}})
}

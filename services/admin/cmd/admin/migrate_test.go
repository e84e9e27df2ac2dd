package main

import (
	"testing"

	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationServesOnlyAMigratedSchema: see pgtest.CheckMigrateStep.
func TestIntegrationServesOnlyAMigratedSchema(t *testing.T) {
	t.Parallel()
	pgtest.CheckMigrateStep(t, pgtest.MigrateStep{Name: "admin", Schema: schema, Group: appGroup, Serve: run, Migrate: migrate, Env: map[string]string{
		"ADMIN_DATA_DIR": t.TempDir(), "ADMIN_ADDR": "127.0.0.1:0",
		"ADMIN_ARGON2_MEMORY_KIB": "64", "ADMIN_ARGON2_TIME": "1", "ADMIN_ARGON2_ALLOW_WEAK": "true",
	}})
}

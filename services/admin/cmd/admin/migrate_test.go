package main

import (
	"context"
	"io"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationServesOnlyAMigratedSchema: as its app role, admin
// refuses to start on a schema `admin migrate` has not migrated, says
// so, and creates nothing; the owner's migrate step, which has no right on
// the database, migrates it (again a no-op), and then admin serves (the
// harness's tests).
func TestIntegrationServesOnlyAMigratedSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pgtest.CheckMigrateStep(t, pgtest.MigrateStep{
		Name: "admin", Schema: schema, Group: appGroup,
		Serve: func(appURL string) error {
			return run(ctx, libconfig.Map(map[string]string{
				"DATABASE_URL": appURL, "ADMIN_DATA_DIR": t.TempDir(), "ADMIN_ADDR": "127.0.0.1:0",
				"ADMIN_ARGON2_MEMORY_KIB": "64", "ADMIN_ARGON2_TIME": "1", "ADMIN_ARGON2_ALLOW_WEAK": "true",
			}), &logtest.Buffer{})
		},
		Migrate: func(env libconfig.LookupEnv) error { return migrate(ctx, env, io.Discard) },
	})
}

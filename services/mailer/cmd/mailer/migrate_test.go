package main

import (
	"context"
	"io"
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
	pgtest.CheckMigrateStep(t, pgtest.MigrateStep{
		Name: "mailer", Schema: schema, Group: appGroup,
		Serve: func(appURL string) error {
			return run(ctx, libconfig.Map(map[string]string{
				"DATABASE_URL": appURL, "MAILER_ADDR": "127.0.0.1:0", "MAILER_LINK_SECRET": testLinkSecret,
			}), &logtest.Buffer{})
		},
		Migrate: func(env libconfig.LookupEnv) error { return migrate(ctx, env, io.Discard) },
	})
}

package main

import (
	"context"
	"io"
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
	pgtest.CheckMigrateStep(t, pgtest.MigrateStep{
		Name: "exporter", Schema: schema, Group: appGroup,
		Serve: func(appURL string) error {
			return run(ctx, nil, libconfig.Map(map[string]string{
				"DATABASE_URL": appURL, "EXPORTER_ADDR": "127.0.0.1:0",
			}), &logtest.Buffer{})
		},
		Migrate: func(env libconfig.LookupEnv) error { return run(ctx, []string{"migrate"}, env, io.Discard) },
	})
}

package main

import (
	"context"
	"io"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/postgres/pgtest"
)

// TestIntegrationServesOnlyAMigratedSchema: see pgtest.CheckMigrateStep.
// exporter's run dispatches `exporter migrate` itself, so both steps go
// through it.
func TestIntegrationServesOnlyAMigratedSchema(t *testing.T) {
	t.Parallel()
	runArgs := func(args ...string) pgtest.EntryPoint {
		return func(ctx context.Context, env libconfig.LookupEnv, stdout io.Writer) error {
			return run(ctx, args, env, stdout)
		}
	}
	pgtest.CheckMigrateStep(t, pgtest.MigrateStep{Name: "exporter", Schema: schema, Group: appGroup, Serve: runArgs(), Migrate: runArgs("migrate"),
		Env: map[string]string{"EXPORTER_ADDR": "127.0.0.1:0"}})
}

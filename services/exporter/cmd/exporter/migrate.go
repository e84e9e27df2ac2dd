package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/logging"
	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/exporter/internal/config"
	"github.com/acube/platform/services/exporter/internal/migrations"
)

// appGroup is the role exporter's migrations grant the use of its tables to
// (store/migrations, app_role); the serving login is only a member of it.
const appGroup = "acube_exporter_app"

// migrate is `exporter migrate`: it applies the migrations as the schema's
// owner (MIGRATE_DATABASE_URL) and exits. In Kubernetes it is each pod's
// init container; replicas starting together take turns on a lock.
func migrate(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	cfg, err := config.LoadMigrate(lookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, "exporter", cfg.LogLevel)
	log.Info("migrating", libconfig.LogValue(&cfg)...)
	if err := postgres.Up(ctx, postgres.Config{URL: cfg.DatabaseURL, Schema: schema}, log, migrations.Sets()...); err != nil {
		return err
	}
	log.Info("migrated", "schema", schema)
	return nil
}

// openDB opens the serving pool, logged in with DATABASE_URL (exporter's app
// role), once the schema carries every migration of this binary. It
// creates and migrates nothing: a schema behind the binary fails the start
// at once, naming the step that was skipped.
func openDB(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pool, err := postgres.OpenMigrated(ctx, postgres.Config{URL: cfg.DatabaseURL, Schema: schema, MaxConns: cfg.DBMaxConns}, migrations.Sets()...)
	if errors.As(err, new(*postgres.NotMigratedError)) {
		return nil, fmt.Errorf("%w: run `exporter migrate` first", err)
	}
	return pool, err
}

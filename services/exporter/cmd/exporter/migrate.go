package main

import (
	"context"
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

// database is exporter's schema and the migration sets this binary carries.
func database() postgres.Service {
	return postgres.Service{Name: "exporter", Schema: schema, Sets: migrations.Sets()}
}

// migrate is `exporter migrate`: it applies the migrations as the schema's
// owner (MIGRATE_DATABASE_URL) and exits. In Kubernetes it is each pod's
// init container; replicas starting together take turns on a lock.
func migrate(ctx context.Context, lookupEnv libconfig.LookupEnv, stdout io.Writer) error {
	cfg, err := config.LoadMigrate(lookupEnv)
	if err != nil {
		return err
	}
	return database().Up(ctx, logging.New(stdout, "exporter", cfg.LogLevel), cfg.DatabaseURL, libconfig.LogValue(&cfg)...)
}

// openDB opens the serving pool, logged in with DATABASE_URL (exporter's app
// role), once the schema carries every migration of this binary
// (postgres.Service.Open).
func openDB(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	return database().Open(ctx, postgres.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns})
}

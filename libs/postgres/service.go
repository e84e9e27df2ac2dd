package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Service is what a service's binary knows of its database: its name, the
// schema it owns and the migration sets it carries. Its two methods are
// the service's two database steps (docs/architecture.md, "Migrations"),
// so that every service migrates, logs and refuses an unmigrated schema
// the same way.
type Service struct {
	// Name is the service's command, as in `<Name> migrate`.
	Name string
	// Schema is the service's own schema.
	Schema string
	// Sets are the migration sets of the binary, in the order applied.
	Sets []Migrations
}

// Up is the service's `migrate` subcommand: it logs "migrating" with
// logged (the step's configuration, secrets masked), applies s.Sets to
// s.Schema logged in with ownerURL, the schema owner's, and logs
// "migrated". Replicas starting together take turns on a lock (Migrate).
func (s Service) Up(ctx context.Context, log *slog.Logger, ownerURL string, logged ...any) error {
	log.Info("migrating", logged...)
	if err := Up(ctx, Config{URL: ownerURL, Schema: s.Schema}, log, s.Sets...); err != nil {
		return err
	}
	log.Info("migrated", "schema", s.Schema)
	return nil
}

// Open opens the serving pool (OpenMigrated) on s.Schema, whatever
// cfg.Schema says, once the schema carries every migration of s.Sets. It
// creates and migrates nothing: a schema behind the binary fails the start
// at once with a *NotMigratedError that names the step that was skipped,
// `<Name> migrate`.
func (s Service) Open(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	cfg.Schema = s.Schema
	pool, err := OpenMigrated(ctx, cfg, s.Sets...)
	if errors.As(err, new(*NotMigratedError)) {
		return nil, fmt.Errorf("%w: run `%s migrate` first", err, s.Name)
	}
	return pool, err
}

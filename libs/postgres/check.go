package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// NotMigratedError says a schema lacks migrations the running binary has:
// its migrate step has not run (or failed).
type NotMigratedError struct {
	// Schema and Set name the schema and the migration set.
	Schema, Set string
	// At is the highest version the schema carries (0: none, or no
	// version table at all); Needs is the binary's highest.
	At, Needs int64
	// Pending are the versions the binary has and the schema lacks.
	Pending []int64
}

func (e *NotMigratedError) Error() string {
	return fmt.Sprintf("schema %s is at %s version %d, this binary needs %d (%d migrations pending)", e.Schema, e.Set, e.At, e.Needs, len(e.Pending))
}

// OpenMigrated is a serving process's start: it opens the pool (see Open;
// cfg.URL is the app role's), checks it connects, and checks that the
// schema carries every migration of sets (CheckMigrated). It never creates
// or migrates anything.
func OpenMigrated(ctx context.Context, cfg Config, sets ...Migrations) (*pgxpool.Pool, error) {
	pool, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	if err := CheckMigrated(ctx, pool, cfg.Schema, sets...); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// CheckMigrated returns a *NotMigratedError when schema lacks a version
// of one of sets. A schema ahead of the binary is fine: migrations only
// add what the previous release can ignore, and during a rollout (or a
// rollback of the binary) old replicas serve a newer schema. The role of
// pool needs SELECT on the version tables, which Migrate leaves to every
// role the owner granted it.
func CheckMigrated(ctx context.Context, pool *pgxpool.Pool, schema string, sets ...Migrations) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	for _, set := range sets {
		// The provider only lists the set's files here; it touches the
		// database only when asked to migrate.
		p, err := goose.NewProvider(goose.DialectPostgres, db, set.FS, goose.WithTableName(set.table()), goose.WithDisableGlobalRegistry(true))
		if err != nil {
			return fmt.Errorf("load %s migrations: %w", set.Name, err)
		}
		applied, err := appliedVersions(ctx, pool, schema, set.table())
		if err != nil {
			return err
		}
		e := &NotMigratedError{Schema: schema, Set: set.Name}
		for _, v := range applied {
			e.At = max(e.At, v)
		}
		for _, src := range p.ListSources() {
			e.Needs = max(e.Needs, src.Version)
			if !slices.Contains(applied, src.Version) {
				e.Pending = append(e.Pending, src.Version)
			}
		}
		if len(e.Pending) > 0 {
			return e
		}
	}
	return nil
}

// appliedVersions reads the versions recorded in schema's version table,
// none when there is no such table.
func appliedVersions(ctx context.Context, pool *pgxpool.Pool, schema, table string) ([]int64, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_tables WHERE schemaname = $1 AND tablename = $2)`, schema, table).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look for %s.%s: %w", schema, table, err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := pool.Query(ctx, "SELECT version_id FROM "+pgx.Identifier{schema, table}.Sanitize()+" WHERE is_applied")
	if err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", schema, table, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", schema, table, err)
	}
	return versions, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations is one set of versioned SQL files. A service applies its own
// and those of the libraries it uses (the outbox, the consumer inbox); each
// set keeps its own version table, so their numbers never clash.
type Migrations struct {
	// Name names the version table: goose_<Name>.
	Name string
	// FS holds the goose-formatted .sql files at its root.
	FS fs.FS
}

// table is the set's version table.
func (m Migrations) table() string { return "goose_" + m.Name }

// Up is a service's migrate step: it logs in with cfg.URL, the schema
// owner's, applies every set in cfg.Schema and closes its connections.
// The schema must exist (the database's bootstrap creates it and gives it
// to the owner); cfg.Role is ignored, the owner runs as itself.
func Up(ctx context.Context, cfg Config, log *slog.Logger, sets ...Migrations) error {
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 2 // goose's lock session and the migrations' connection
	}
	cfg.Role = ""
	pool, err := Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open migration pool: %w", err)
	}
	defer pool.Close()
	return Migrate(ctx, pool, cfg.Schema, log, sets...)
}

// Migrate applies every set, in order, under a session advisory lock so
// replicas migrating together take turns, then leaves every role but the
// owner at most SELECT on the version tables (the serving process reads
// them, see CheckMigrated; only migrations write them). pool must use
// schema as its search path (see Open) and log in as the schema's owner.
//
// A schema that does not exist is created, which only a role with CREATE
// on the database may do: tests and benchmarks, which run as a superuser
// on databases of their own. The migrate step never needs it.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, log *slog.Logger, sets ...Migrations) error {
	if err := ensureSchema(ctx, pool, schema); err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	for _, set := range sets {
		// One lock per schema: replicas of a service take turns, but
		// services sharing a database migrate at once instead of queueing
		// behind goose's single default lock, and a waiting replica
		// retries every second (for five minutes) rather than every five.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID(schema)), lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		p, err := goose.NewProvider(goose.DialectPostgres, db, set.FS,
			goose.WithTableName(set.table()),
			goose.WithDisableGlobalRegistry(true),
			goose.WithSessionLocker(locker),
		)
		if err != nil {
			return fmt.Errorf("load %s migrations: %w", set.Name, err)
		}
		results, err := p.Up(ctx)
		if err != nil {
			return fmt.Errorf("apply %s migrations in schema %s: %w", set.Name, schema, err)
		}
		for _, r := range results {
			log.Info("migration applied", "schema", schema, "set", set.Name, "version", r.Source.Version, "duration_ms", r.Duration.Milliseconds())
		}
	}
	return restrictVersionTables(ctx, pool, schema)
}

// ensureSchema creates schema when it is missing. It looks first:
// PostgreSQL checks CREATE on the database before it finds that a schema
// exists, so CREATE SCHEMA IF NOT EXISTS fails for the owner even then.
func ensureSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
		return fmt.Errorf("look for schema %s: %w", schema, err)
	}
	if exists {
		return nil
	}
	_, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return nil // a concurrent CREATE SCHEMA IF NOT EXISTS raced on the catalog
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		return fmt.Errorf("schema %s does not exist, and this role may not create it: the database's bootstrap creates it (deploy/k8s/infra/postgres/bootstrap.sql): %w", schema, err)
	default:
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
}

// versionTableGrants lists what roles other than the owner hold on the
// schema's version tables and their id sequences, beyond SELECT on a
// table. The app roles' default privileges give them DML on every table
// the owner creates, goose's too.
const versionTableGrants = `
SELECT c.relname, c.relkind = 'S', a.privilege_type,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END
FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)
  AND c.relname LIKE 'goose\_%' AND c.relkind IN ('r', 'p', 'S')
  AND a.grantee <> c.relowner
  AND NOT (c.relkind <> 'S' AND a.privilege_type = 'SELECT')`

// restrictVersionTables revokes everything versionTableGrants finds.
func restrictVersionTables(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	rows, err := pool.Query(ctx, versionTableGrants, schema)
	if err != nil {
		return fmt.Errorf("read the grants on schema %s's version tables: %w", schema, err)
	}
	type grant struct {
		rel, privilege, grantee string
		sequence                bool
	}
	grants, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (grant, error) {
		var g grant
		err := r.Scan(&g.rel, &g.sequence, &g.privilege, &g.grantee)
		return g, err
	})
	if err != nil {
		return fmt.Errorf("read the grants on schema %s's version tables: %w", schema, err)
	}
	for _, g := range grants {
		kind := "TABLE"
		if g.sequence {
			kind = "SEQUENCE"
		}
		// grantee comes from regrole's output, quoted where needed.
		sql := fmt.Sprintf("REVOKE %s ON %s %s FROM %s", g.privilege, kind, pgx.Identifier{schema, g.rel}.Sanitize(), g.grantee)
		if _, err := pool.Exec(ctx, sql); err != nil {
			return fmt.Errorf("restrict version table %s.%s: %w", schema, g.rel, err)
		}
	}
	return nil
}

// migrationLockID is the advisory lock key of schema's migrations.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("acube-migrate:" + schema))
	return int64(h.Sum64())
}

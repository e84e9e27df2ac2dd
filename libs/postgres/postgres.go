// Package postgres opens a service's connection pool, creates its database
// and schema when missing and applies its embedded, versioned migrations.
//
// Every service owns one schema and sets it as the search path of each of
// its connections, so its SQL names tables without a schema prefix and can
// never read another service's tables by accident.
//
// A service may also serve under a less privileged role than the one that
// owns its schema: Config.Role is taken on every pooled connection, and
// Config.MigrateURL lets Setup migrate as the owner while the pool it
// returns logs in as someone else.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Config says where a service's data lives.
type Config struct {
	// URL is the libpq-style connection URL, database included.
	URL string
	// Schema is the service's own schema, set as each connection's search path.
	Schema string
	// MaxConns caps the pool; zero keeps pgx's default (max(4, cores)).
	MaxConns int32
	// Role, when set, is taken with SET ROLE on every new connection before
	// the pool hands it out, so the pool's queries run with that role's
	// privileges only. The login role of URL must be a member of it. SET
	// ROLE is a session setting a compromised process could RESET: where
	// that matters, log in as a role that is nothing but a member of Role.
	Role string
	// MigrateURL, when set, is the URL Setup creates the database and
	// applies the migrations with (typically the schema owner's); the pool
	// it returns still logs in with URL. Empty means URL.
	MigrateURL string
}

// Open connects a pool whose connections use cfg.Schema as search path and
// run as cfg.Role when it is set; it logs in with cfg.URL, never
// cfg.MigrateURL. It does not create anything; see EnsureDatabase and
// Migrate.
func Open(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.Schema != "" {
		pcfg.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	if cfg.Role != "" {
		setRole := "SET ROLE " + pgx.Identifier{cfg.Role}.Sanitize()
		pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			if _, err := conn.Exec(ctx, setRole); err != nil {
				return fmt.Errorf("set role %s: %w", cfg.Role, err)
			}
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	return pool, nil
}

// EnsureDatabase creates the database named in rawURL when it does not
// exist, connecting to the server's "postgres" database to do so.
func EnsureDatabase(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return errors.New("database url names no database")
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil // already there, or created by a concurrent caller
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Migrations is one set of versioned SQL files. A service applies its own
// and those of the libraries it uses (the outbox, the consumer inbox); each
// set keeps its own version table, so their numbers never clash.
type Migrations struct {
	// Name names the version table: goose_<Name>.
	Name string
	// FS holds the goose-formatted .sql files at its root.
	FS fs.FS
}

// Migrate creates schema when missing and applies every set, in order,
// under a session advisory lock so replicas starting together take turns.
// pool must use schema as its search path (see Open).
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, log *slog.Logger, sets ...Migrations) error {
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		// A concurrent CREATE SCHEMA IF NOT EXISTS can still race on the catalog.
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
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
			goose.WithTableName("goose_"+set.Name),
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
	return nil
}

// migrationLockID is the advisory lock key of schema's migrations.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("acube-migrate:" + schema))
	return int64(h.Sum64())
}

// Setup is a service's start-up in one call: it creates the database when
// missing, opens the pool with cfg.Schema as search path and applies the
// migration sets. The caller closes the pool.
//
// When cfg.Role or cfg.MigrateURL is set, the migrations run first on a
// pool of their own, logged in with cfg.MigrateURL (or cfg.URL) and without
// cfg.Role, which is closed before the serving pool is opened; Setup then
// checks that the serving pool can connect and take cfg.Role, so a missing
// role or membership fails the start rather than the first request.
func Setup(ctx context.Context, cfg Config, log *slog.Logger, sets ...Migrations) (*pgxpool.Pool, error) {
	migrateURL := cfg.MigrateURL
	if migrateURL == "" {
		migrateURL = cfg.URL
	}
	if err := EnsureDatabase(ctx, migrateURL); err != nil {
		return nil, err
	}
	if cfg.Role == "" && migrateURL == cfg.URL {
		pool, err := Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if err := Migrate(ctx, pool, cfg.Schema, log, sets...); err != nil {
			pool.Close()
			return nil, err
		}
		return pool, nil
	}
	if err := migrateAsOwner(ctx, Config{URL: migrateURL, Schema: cfg.Schema}, log, sets...); err != nil {
		return nil, err
	}
	pool, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect serving pool: %w", err)
	}
	return pool, nil
}

// migrateAsOwner applies the sets on a short-lived pool of cfg.
func migrateAsOwner(ctx context.Context, cfg Config, log *slog.Logger, sets ...Migrations) error {
	pool, err := Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open migration pool: %w", err)
	}
	defer pool.Close()
	return Migrate(ctx, pool, cfg.Schema, log, sets...)
}

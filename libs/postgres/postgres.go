// Package postgres opens a service's connection pool and applies and
// checks its embedded, versioned migrations.
//
// Every service owns one schema and sets it as the search path of each of
// its connections, so its SQL names tables without a schema prefix and can
// never read another service's tables by accident.
//
// Migrating and serving are two steps run by two roles
// (docs/architecture.md, "Migrations"): Up, the service's `migrate`
// subcommand, logs in as the schema's owner and applies the migrations;
// OpenMigrated, the serving process, logs in as the service's app role,
// which may only use the tables, and checks that the schema carries every
// migration the binary has. Neither creates a database or a schema: the
// database's bootstrap does (deploy/k8s/infra/postgres/bootstrap.sql).
// Service holds the two steps as every service's binary runs them.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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
}

// Open connects a pool whose connections use cfg.Schema as search path and
// run as cfg.Role when it is set. It does not create or check anything;
// see OpenMigrated and Up.
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
// exist, connecting to the server's "postgres" database to do so. It is
// for development tools and benchmarks, which log in as a superuser; no
// service calls it.
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

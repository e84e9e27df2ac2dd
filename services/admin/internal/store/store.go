// Package store keeps the admin service's data in PostgreSQL, in the admin
// schema: accounts, login sessions and their refresh tokens, invitations,
// MFA challenges and recovery codes, login throttles, the append-only
// audit log and bulk jobs. Each change's events go to the outbox in the same
// transaction.
package store

import (
	"context"
	"embed"
	"errors"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox"
	"github.com/acube/platform/libs/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the admin schema's own migrations.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrationFiles, "migrations") // the path is fixed at compile time
	return postgres.Migrations{Name: "admin", FS: sub}
}

// AppRole is the database role the service runs as in production; it
// cannot change or delete audit rows.
const AppRole = "acube_admin_app"

func emit(ctx context.Context, tx pgx.Tx, ev events.Event) error {
	return outbox.Add(ctx, tx, ev)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// Purge removes what has outlived every use by more than keep: expired
// refresh-token families and their sessions, idle throttle counters,
// MFA challenges, and invitations (used or not).
func Purge(ctx context.Context, pool *pgxpool.Pool, keep string) error {
	for _, q := range []string{purgeRefresh, purgeSessions, purgeThrottle, purgeChallenges, purgeInvitations} {
		if _, err := pool.Exec(ctx, q, keep); err != nil {
			return err
		}
	}
	return nil
}

const (
	purgeRefresh     = `DELETE FROM refresh_tokens WHERE family_expires_at < now() - $1::interval`
	purgeSessions    = `DELETE FROM sessions WHERE expires_at < now() - $1::interval`
	purgeThrottle    = `DELETE FROM login_throttle WHERE GREATEST(last_at, locked_until) < now() - $1::interval`
	purgeChallenges  = `DELETE FROM mfa_challenges WHERE expires_at < now() - $1::interval`
	purgeInvitations = `DELETE FROM invitations WHERE expires_at < now() - $1::interval`
)

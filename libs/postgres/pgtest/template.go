package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/acube/platform/libs/postgres"
)

// Templates.
//
// A template is a database that carries a spec: migration sets applied in
// a schema, by the superuser or, for a service, by an owner role. It is
// named after a digest of the spec, file contents included
// (pgtest_tpl_<digest>), so every package and every run that needs the
// same migrations shares one template, and an edited migration gets a new
// one. Building takes a session advisory lock keyed by the name, so of the
// packages that go test runs at once one migrates and the others wait and
// clone. The template is marked ready (IS_TEMPLATE) only once migrated,
// and closed to connections (ALLOW_CONNECTIONS false) before: nobody can
// be connected to it when a test clones it, the cause of "source database
// is being accessed by other users". A build interrupted half-way leaves a
// database that is not marked, which the next build drops and redoes.
//
// Templates stay on the server between runs: that is what makes the next
// run's first test fast. A build replaces the templates of the same family
// (schema, roles and set names, not contents), so the server keeps one per
// family, the latest migrations'. A package still running with the old
// migrations that finds its template gone builds it again (clone retries).

// templatePrefix starts every template's name; nothing else uses it.
const templatePrefix = "pgtest_tpl_"

// layout names how this file builds a template. Change it when the way a
// template is built changes, so templates built the old way are replaced.
const layout = "pgtest template v1"

// spec is what a template carries.
type spec struct {
	// schema holds the migrations.
	schema string
	// sets are applied in order, as postgres.Migrate applies them.
	sets []postgres.Migrations
	// owner, when set, owns schema and runs the migrations, as a
	// service's migrate step does; group is the app group the migrations
	// grant to, created first, as the database's bootstrap does. Without
	// owner, the superuser migrates, as a test that calls postgres.Migrate
	// itself did.
	owner, group string
}

// family says which templates one replaces: the same schema, roles and
// sets, whatever the files in the sets say.
func (s spec) family() string {
	names := make([]string, len(s.sets))
	for i, set := range s.sets {
		names[i] = set.Name
	}
	return fmt.Sprintf("%s: schema %s, owner %q, group %q, sets %s", layout, s.schema, s.owner, s.group, strings.Join(names, ","))
}

// name is the template's database name: the prefix and a digest of the
// family and of every file of every set.
func (s spec) name() (string, error) {
	h := sha256.New()
	field := func(b []byte) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(b)))
		_, _ = h.Write(b)
	}
	field([]byte(s.family()))
	for _, set := range s.sets {
		field([]byte(set.Name))
		// WalkDir goes in lexical order: the digest does not depend on
		// how the FS lists its files.
		err := fs.WalkDir(set.FS, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(set.FS, path)
			if err != nil {
				return err
			}
			field([]byte(path))
			field(b)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("read migration set %s: %w", set.Name, err)
		}
	}
	return templatePrefix + hex.EncodeToString(h.Sum(nil)[:10]), nil
}

// lockKey is the advisory lock that builders of template take turns on.
func lockKey(template string) int64 {
	sum := sha256.Sum256([]byte("pgtest-build:" + template))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// templateReady reports whether template exists and is marked ready.
func templateReady(ctx context.Context, conn *pgx.Conn, template string) (bool, error) {
	var ready bool
	err := conn.QueryRow(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, template).Scan(&ready)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for template %s: %w", template, err)
	}
	return ready, nil
}

// built says what ensureTemplate did when it built a template, for the
// test's log.
type built struct {
	// took is how long the migrations took; zero when another test built
	// the template.
	took time.Duration
	// pruneErr is why an older template of the family was not dropped.
	pruneErr error
}

// ensureTemplate returns the name of s's template, building it first when
// it is not ready. conn is a superuser's session on base, the server's
// maintenance database.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, base string, s spec) (string, built, error) {
	name, err := s.name()
	if err != nil {
		return "", built{}, err
	}
	if ready, err := templateReady(ctx, conn, name); err != nil || ready {
		return name, built{}, err
	}
	key := lockKey(name)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return "", built{}, fmt.Errorf("wait to build template %s: %w", name, err)
	}
	// Should the unlock fail, closing the session releases the lock.
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key) }()
	// Another package may have built it while this one waited.
	if ready, err := templateReady(ctx, conn, name); err != nil || ready {
		return name, built{}, err
	}
	start := time.Now()
	if err := build(ctx, conn, base, name, s); err != nil {
		return "", built{}, fmt.Errorf("build template %s (%s): %w", name, s.family(), err)
	}
	b := built{took: time.Since(start)}
	b.pruneErr = prune(ctx, conn, name, s.family())
	return name, b, nil
}

// build creates template and migrates it as s says, then closes it to
// connections and marks it ready. conn is on the maintenance database and
// holds the template's build lock.
func build(ctx context.Context, conn *pgx.Conn, base, template string, s spec) error {
	// Left by a build that was interrupted: it was never marked ready,
	// so nobody clones it.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+template+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop an unfinished build: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+template); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	dbURL, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("parse %s: %w", base, err)
	}
	dbURL.Path = "/" + template
	if s.owner != "" {
		if err := createRoles(ctx, conn, s.group, s.owner); err != nil {
			return err
		}
		if err := createSchema(ctx, dbURL.String(), s.schema, s.owner); err != nil {
			return err
		}
		dbURL.User = url.User(s.owner)
	}
	if err := migrate(ctx, dbURL.String(), s); err != nil {
		return err
	}
	for _, sql := range []string{
		"ALTER DATABASE " + template + " WITH ALLOW_CONNECTIONS false",
		"COMMENT ON DATABASE " + template + " IS " + quote(s.family()),
		// Last: the mark that the template is complete.
		"ALTER DATABASE " + template + " WITH IS_TEMPLATE true",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// createRoles creates the app group, as the database's bootstrap does, and
// the template's owner login, each unless it exists. Both are left in
// place: every clone's objects belong to the owner and grant to the group.
func createRoles(ctx context.Context, conn *pgx.Conn, group, owner string) error {
	for _, sql := range []string{
		createRoleOnce(group, "NOLOGIN"),
		createRoleOnce(owner, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// createRoleOnce creates role unless it exists; tests in several packages
// create the same roles at once, so a duplicate is fine.
func createRoleOnce(role, options string) string {
	return `DO $$ BEGIN CREATE ROLE ` + pgx.Identifier{role}.Sanitize() + ` ` + options +
		`; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`
}

// createSchema creates schema in the database at dbURL, owned by owner.
func createSchema(ctx context.Context, dbURL, schema, owner string) error {
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to create schema %s: %w", schema, err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	sql := "CREATE SCHEMA " + pgx.Identifier{schema}.Sanitize() + " AUTHORIZATION " + pgx.Identifier{owner}.Sanitize()
	if _, err := c.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// migrate applies s's sets in the database at dbURL, as its login, and
// closes every connection it opened before it returns.
func migrate(ctx context.Context, dbURL string, s spec) error {
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: s.schema, MaxConns: 2})
	if err != nil {
		return fmt.Errorf("open migration pool: %w", err)
	}
	defer pool.Close()
	return postgres.Migrate(ctx, pool, s.schema, slog.New(slog.NewTextHandler(io.Discard, nil)), s.sets...)
}

// prune drops the ready templates of family other than keep: those of
// older migrations. One still being built is left to its builder. One
// being cloned is dropped once the clone is done (DROP DATABASE waits for
// CREATE DATABASE's lock on it).
func prune(ctx context.Context, conn *pgx.Conn, keep, family string) error {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE datistemplate AND datname LIKE $1 AND datname <> $2 AND shobj_description(oid, 'pg_database') = $3`,
		strings.ReplaceAll(templatePrefix, "_", `\_`)+"%", keep, family)
	if err != nil {
		return fmt.Errorf("list old templates of %s: %w", family, err)
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list old templates of %s: %w", family, err)
	}
	var errs []error
	for _, name := range old {
		if err := dropTemplate(ctx, conn, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dropTemplate drops a template database, which must first be unmarked.
func dropTemplate(ctx context.Context, conn *pgx.Conn, template string) error {
	for _, sql := range []string{
		"ALTER DATABASE " + template + " WITH IS_TEMPLATE false",
		"DROP DATABASE IF EXISTS " + template,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil && !isCode(err, "3D000") {
			return fmt.Errorf("drop old template %s: %s: %w", template, sql, err)
		}
	}
	return nil
}

// clone creates database name as a copy of template. A template another
// package's build has just replaced (3D000) is built again by the caller;
// one whose builder's connections are still closing (55006) is retried.
func clone(ctx context.Context, conn *pgx.Conn, name, template string) error {
	sql := "CREATE DATABASE " + name + " TEMPLATE " + template
	for attempt := 1; ; attempt++ {
		_, err := conn.Exec(ctx, sql)
		if err == nil || !isCode(err, "55006") || attempt == 5 {
			if err != nil {
				return fmt.Errorf("clone %s into %s: %w", template, name, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clone %s into %s: %w", template, name, err)
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// isCode reports whether err is a PostgreSQL error with SQLSTATE code.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// quote is s as an SQL string literal.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

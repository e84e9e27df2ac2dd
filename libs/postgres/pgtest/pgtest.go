// Package pgtest gives each test its own PostgreSQL database on the local
// server, dropped when the test ends, so tests never share rows with each
// other or with a running development stack.
//
// A test that needs a migrated schema gets a clone of a template database
// (NewMigrated, NewMigratedService) rather than migrating an empty one:
// the template is migrated once, by the first test that needs it, and
// every later test of any package and any run copies it with CREATE
// DATABASE … TEMPLATE, which costs no more than creating an empty
// database. See template.go for how templates are named, shared between
// packages running at once, and replaced when the migrations change.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/postgres"
)

// DefaultURL is the server tests use unless TEST_DATABASE_URL says otherwise.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// setupTimeout bounds one test's database set-up. It covers a template's
// migration, or the wait for another package's, on a loaded machine.
const setupTimeout = 2 * time.Minute

// serverURL is the server's maintenance database, as a superuser.
func serverURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates an empty database and returns its URL. It skips the
// test under -short, since it needs a running server.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, nil)
}

// NewMigrated returns the URL of a new database whose schema carries sets,
// applied in order as postgres.Migrate applies them, by the superuser. It
// is a clone of a template migrated once for every test, package and run
// that asks for the same schema and sets (see template.go), and is
// dropped when the test ends. It skips the test under -short.
//
// The URL logs in as the superuser: open it with postgres.Open and
// Schema: schema, as the service would.
func NewMigrated(t testing.TB, schema string, sets ...postgres.Migrations) string {
	t.Helper()
	return newDatabase(t, &spec{schema: schema, sets: sets})
}

// newDatabase creates a database, a clone of tmpl's template or, when tmpl
// is nil, an empty one; drops it when the test ends; and returns its URL
// as the superuser.
func newDatabase(t testing.TB, tmpl *spec) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL; skipped under -short")
	}
	base := serverURL()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", base, err)
	}
	defer conn.Close(ctx)

	name := "test_" + randomHex(6)
	if tmpl == nil {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatalf("pgtest: create database %s: %v", name, err)
		}
		t.Logf("pgtest: created %s", name)
	} else {
		cloneTemplate(ctx, t, conn, base, name, *tmpl)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withPath(t, base, "/"+name)
}

// cloneTemplate creates database name as a clone of tmpl's template,
// building the template first when it is not ready. conn is a superuser's
// session on base, the server's maintenance database.
func cloneTemplate(ctx context.Context, t testing.TB, conn *pgx.Conn, base, name string, tmpl spec) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		template, b, err := ensureTemplate(ctx, conn, base, tmpl)
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		if b.took > 0 {
			t.Logf("pgtest: migrated template %s (%s) in %s", template, tmpl.family(), b.took.Round(time.Millisecond))
		}
		if b.pruneErr != nil {
			t.Logf("pgtest: %v", b.pruneErr)
		}
		err = clone(ctx, conn, name, template)
		if err == nil {
			t.Logf("pgtest: cloned %s from %s", name, template)
			return
		}
		// 3D000: a package with other migrations replaced the template
		// between the look and the clone; build it again.
		if !isCode(err, "3D000") || attempt == 3 {
			t.Fatalf("pgtest: %v", err)
		}
	}
}

// randomHex is n random bytes in hex: names that tests running at once,
// in this process or another, do not share.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func withPath(t testing.TB, raw, path string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", raw, err)
	}
	u.Path = path
	return u.String()
}

func withUser(t testing.TB, raw, user string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("pgtest: parse %s: %v", raw, err)
	}
	u.User = url.User(user)
	return u.String()
}

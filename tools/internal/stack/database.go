package stack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"sigs.k8s.io/yaml"

	"github.com/acube/platform/libs/postgres"
)

// PostgresDir is where the production database's roles (cluster.yaml's
// spec.managed.roles) and bootstrap SQL live, from the repository root.
const PostgresDir = "deploy/k8s/infra/postgres"

// DBServices are the services with a schema of their own, each migrated by
// its `<svc> migrate` step before it serves.
func DBServices() []string { return []string{"booking", "admin", "mailer", "exporter"} }

// DBRoles are the logins of service svc's schema, as bootstrap.sql and
// cluster.yaml name them: the owner, which migrates, and the app role,
// which serves.
func DBRoles(svc string) (owner, app string) { return svc, svc + "_app" }

// DatabaseConfig says which local database to lay out as production's.
type DatabaseConfig struct {
	// Root is the repository root; the roles and the bootstrap SQL are
	// read from its PostgresDir.
	Root string
	// URL names the database and logs in as a superuser of its server.
	URL string
	// Password, when set, gives a login role the password of the Secret
	// its managed role names; nil leaves the roles without passwords, for
	// a server that trusts local clients (`make run`, the tests).
	Password func(secret string) (string, error)
}

// Database is a local database laid out as CloudNativePG lays out acube.
type Database struct {
	url       *url.URL
	passwords map[string]string // login role → password, when set
}

// managedRole is the part of a spec.managed.roles entry set up locally.
type managedRole struct {
	Name           string   `json:"name"`
	Login          bool     `json:"login"`
	Superuser      bool     `json:"superuser"`
	CreateDB       bool     `json:"createdb"`
	CreateRole     bool     `json:"createrole"`
	InRoles        []string `json:"inRoles"`
	PasswordSecret *struct {
		Name string `json:"name"`
	} `json:"passwordSecret"`
}

// cluster is the part of cluster.yaml's Cluster set up locally.
type cluster struct {
	Kind string `json:"kind"`
	Spec struct {
		Bootstrap struct {
			InitDB struct {
				PostInitApplicationSQLRefs struct {
					ConfigMapRefs []struct {
						Key string `json:"key"`
					} `json:"configMapRefs"`
				} `json:"postInitApplicationSQLRefs"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		Managed struct {
			Roles []managedRole `json:"roles"`
		} `json:"managed"`
	} `json:"spec"`
}

// PrepareDatabase does locally what CloudNativePG does for acube, from the
// same files: it creates the database when missing, the roles of
// cluster.yaml's spec.managed.roles with their attributes and memberships,
// and runs the bootstrap SQL the Cluster references (bootstrap.sql: the
// schemas and their owners) in the database. Roles are server-wide: the
// set-up holds a lock in the server's postgres database, so concurrent
// callers (tests, a running `make run`) take turns.
func PrepareDatabase(ctx context.Context, cfg DatabaseConfig) (*Database, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	c, sqls, err := readCluster(filepath.Join(cfg.Root, PostgresDir))
	if err != nil {
		return nil, err
	}
	db := &Database{url: u, passwords: map[string]string{}}
	for _, r := range c.Spec.Managed.Roles {
		if cfg.Password != nil && r.Login && r.PasswordSecret != nil {
			if db.passwords[r.Name], err = cfg.Password(r.PasswordSecret.Name); err != nil {
				return nil, fmt.Errorf("password of role %s: %w", r.Name, err)
			}
		}
	}
	if err := postgres.EnsureDatabase(ctx, cfg.URL); err != nil {
		return nil, err
	}
	server := *u
	server.Path = "/postgres"
	conn, err := pgx.Connect(ctx, server.String())
	if err != nil {
		return nil, fmt.Errorf("connect to set up roles: %w", err)
	}
	defer conn.Close(ctx)
	// Held until conn closes, when this returns.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext('acube-local-bootstrap'))`); err != nil {
		return nil, fmt.Errorf("take the bootstrap lock: %w", err)
	}
	// The bootstrap SQL runs first, as CloudNativePG runs it before the
	// managed roles exist; it creates the roles it names without LOGIN.
	target, err := pgx.Connect(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("connect to bootstrap %s: %w", u.Path, err)
	}
	defer target.Close(ctx)
	for i, sql := range sqls {
		if _, err := target.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("run bootstrap SQL %d of %s: %w", i+1, PostgresDir, err)
		}
	}
	for _, r := range c.Spec.Managed.Roles {
		if err := db.applyRole(ctx, conn, r); err != nil {
			return nil, err
		}
	}
	if err := checkSchemaOwners(ctx, target, u.Path); err != nil {
		return nil, err
	}
	return db, nil
}

// readCluster reads the Cluster of dir's cluster.yaml and the bootstrap
// SQL it references: each ConfigMap key is a file of dir, which the
// kustomization's configMapGenerator turns into that key
// (tools/internal/manifests checks the generator).
func readCluster(dir string) (cluster, []string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "cluster.yaml"))
	if err != nil {
		return cluster{}, nil, fmt.Errorf("read the database's roles: %w", err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var c cluster
		if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
			return cluster{}, nil, fmt.Errorf("decode %s/cluster.yaml: %w", dir, err)
		}
		if c.Kind != "Cluster" {
			continue
		}
		var sqls []string
		for _, ref := range c.Spec.Bootstrap.InitDB.PostInitApplicationSQLRefs.ConfigMapRefs {
			sql, err := os.ReadFile(filepath.Join(dir, filepath.Base(ref.Key)))
			if err != nil {
				return cluster{}, nil, fmt.Errorf("read the bootstrap SQL: %w", err)
			}
			sqls = append(sqls, string(sql))
		}
		return c, sqls, nil
	}
	return cluster{}, nil, fmt.Errorf("%s/cluster.yaml has no Cluster", dir)
}

// applyRole creates r when missing and gives it the spec's attributes,
// memberships and password, as CloudNativePG's managed roles do.
func (d *Database) applyRole(ctx context.Context, conn *pgx.Conn, r managedRole) error {
	id := pgx.Identifier{r.Name}.Sanitize()
	attrs := []string{flag(r.Login, "LOGIN"), flag(r.Superuser, "SUPERUSER"), flag(r.CreateDB, "CREATEDB"), flag(r.CreateRole, "CREATEROLE")}
	if pw, ok := d.passwords[r.Name]; ok {
		attrs = append(attrs, "PASSWORD "+quoteLiteral(pw))
	}
	stmts := []string{
		`DO $$ BEGIN CREATE ROLE ` + id + `; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
		"ALTER ROLE " + id + " " + strings.Join(attrs, " "),
	}
	for _, g := range r.InRoles {
		stmts = append(stmts, "GRANT "+pgx.Identifier{g}.Sanitize()+" TO "+id)
	}
	for _, sql := range stmts {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("set up role %s: %w", r.Name, err)
		}
	}
	return nil
}

func flag(on bool, name string) string {
	if on {
		return name
	}
	return "NO" + name
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// checkSchemaOwners refuses a database whose service schemas belong to
// someone else than their owners: one a `make run` made before the migrate
// step, when each service created its schema as the superuser. Its tables
// and default privileges are the superuser's, which no owner can take over
// cleanly; a new database is the way out.
func checkSchemaOwners(ctx context.Context, conn *pgx.Conn, path string) error {
	rows, err := conn.Query(ctx, `SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = ANY($1)`, DBServices())
	if err != nil {
		return fmt.Errorf("read the schemas' owners: %w", err)
	}
	owners, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Schema, Owner string }])
	if err != nil {
		return fmt.Errorf("read the schemas' owners: %w", err)
	}
	var errs []error
	for _, o := range owners {
		if want, _ := DBRoles(o.Schema); o.Owner != want {
			errs = append(errs, fmt.Errorf("schema %s belongs to %s, not %s", o.Schema, o.Owner, want))
		}
	}
	if len(errs) > 0 {
		name := strings.TrimPrefix(path, "/")
		return fmt.Errorf("database %s was laid out before services migrated as their schemas' owners (%w): drop it (dropdb -h 127.0.0.1 -U postgres %s; development data only) or name another database in DATABASE_URL", name, errors.Join(errs...), name)
	}
	return nil
}

// OwnerURL logs in as the owner of svc's schema: its migrate step's URL.
func (d *Database) OwnerURL(svc string) string {
	owner, _ := DBRoles(svc)
	return d.as(owner)
}

// AppURL logs in as svc's app role: what the service serves with.
func (d *Database) AppURL(svc string) string {
	_, app := DBRoles(svc)
	return d.as(app)
}

func (d *Database) as(role string) string {
	u := *d.url
	if pw, ok := d.passwords[role]; ok {
		u.User = url.UserPassword(role, pw)
	} else {
		u.User = url.User(role)
	}
	return u.String()
}

// Migrate runs `<svc> migrate` from bin as the schema's owner for each of
// names that has a schema, one after the other, as the init containers
// do, and fails on the first that fails. Its lines go to out.
func Migrate(ctx context.Context, bin string, db *Database, out *Output, names ...string) error {
	for _, n := range names {
		if !slices.Contains(DBServices(), n) {
			continue
		}
		p, err := Start(Spec{Name: n, Bin: filepath.Join(bin, n), Args: []string{"migrate"}, Env: []string{"MIGRATE_DATABASE_URL=" + db.OwnerURL(n)}}, out)
		if err != nil {
			return err
		}
		select {
		case <-p.Done():
		case <-ctx.Done():
			p.Kill()
			return fmt.Errorf("%s migrate: %w", n, ctx.Err())
		}
		if err := p.Err(); err != nil {
			return fmt.Errorf("%s migrate: %w", n, err)
		}
	}
	return nil
}

package prodlike

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// pgPort is the port every PostgreSQL Service of CloudNativePG listens on.
const pgPort = 5432

// commandLineParams are the settings chaos.Postgres passes on the server's
// command line, which outranks ALTER SYSTEM: the Cluster's values for them
// do not apply locally.
var commandLineParams = []string{"port", "listen_addresses", "fsync", "full_page_writes", "max_connections"}

// Postgres is the local PostgreSQL standing in for the CloudNativePG
// Cluster: one instance (no standbys) with the Cluster's parameters, TLS,
// password authentication over TCP, the bootstrap's database, owner and
// SQL, and the managed roles with their passwords in the local Secrets.
type Postgres struct {
	*chaos.Postgres
	// Port is where it listens on 127.0.0.1.
	Port int
	// Dir holds its data, socket and log.
	Dir string
	// Database is the application database (spec.bootstrap.initdb.database).
	Database string
	// Legacy says the Cluster's bootstrap runs no SQL, so the roles were
	// given what the services needed before the migrate step existed
	// (CREATEDB, and CREATE on the database): docs/operations.md, Deploy 5.
	Legacy bool
	// Skipped are the Cluster's parameters that do not apply locally.
	Skipped []string
}

// startPostgres creates and starts the cluster in a temporary directory
// of its own (the server may run as the postgres user, who cannot enter
// the topology's), bootstraps it as CloudNativePG would and registers its
// Services in dns. Close removes the directory.
func startPostgres(ctx context.Context, m PGManifest, sec *Secrets, ca *authority, dns *DNS, pick func() (int, error)) (*Postgres, error) {
	port, err := pick()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "acube-prodlike-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres directory: %w", err)
	}
	cpg, err := chaos.StartPostgres(ctx, chaos.PostgresBin, dir, port)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	pg := &Postgres{Postgres: cpg, Port: port, Dir: dir, Database: m.Cluster.Spec.Bootstrap.InitDB.Database}
	if err := pg.configure(ctx, m, ca, dir); err != nil {
		_ = cpg.Close()
		return nil, err
	}
	if err := pg.bootstrap(ctx, m, sec); err != nil {
		_ = cpg.Close()
		return nil, err
	}
	ns := m.Namespace
	name := m.Cluster.Metadata.Name
	local := stack.Addr(port)
	for _, svc := range append([]string{name + "-rw", name + "-ro", name + "-r"}, m.Poolers...) {
		dns.Add(svc+"."+ns, pgPort, local)
	}
	return pg, nil
}

// configure applies the Cluster's parameters, turns TLS on with the
// topology's certificate and asks every TCP login but the local superuser
// for its password over TLS, as CloudNativePG's pg_hba does; then
// restarts the server so that every setting holds.
func (pg *Postgres) configure(ctx context.Context, m PGManifest, ca *authority, dir string) error {
	cert, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for src, dst := range map[string]string{ca.CertFile: cert, ca.KeyFile: key} {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("postgres tls: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return fmt.Errorf("postgres tls: %w", err)
		}
		if err := chownToServer(dst); err != nil {
			return err
		}
	}
	hba := strings.Join([]string{
		"local all all trust",
		"host all postgres 127.0.0.1/32 trust",
		"hostssl all all 127.0.0.1/32 scram-sha-256",
		"hostnossl all all 127.0.0.1/32 reject",
		"",
	}, "\n")
	hbaFile := filepath.Join(dir, "data", "pg_hba.conf")
	if err := os.WriteFile(hbaFile, []byte(hba), 0o600); err != nil {
		return fmt.Errorf("postgres pg_hba: %w", err)
	}
	if err := chownToServer(hbaFile); err != nil {
		return err
	}
	params := map[string]string{"ssl": "on", "ssl_cert_file": cert, "ssl_key_file": key, "password_encryption": "scram-sha-256"}
	for k, v := range m.Cluster.Spec.PostgreSQL.Parameters {
		if slices.Contains(commandLineParams, k) {
			pg.Skipped = append(pg.Skipped, k+"="+v)
			continue
		}
		params[k] = v
	}
	slices.Sort(pg.Skipped)
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to configure postgres: %w", err)
	}
	defer conn.Close(ctx)
	for k, v := range params {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM SET "+pgx.Identifier{k}.Sanitize()+" = "+quoteLiteral(v)); err != nil {
			return fmt.Errorf("postgres: set %s: %w", k, err)
		}
	}
	conn.Close(ctx)
	if err := pg.Crash(ctx); err != nil {
		return err
	}
	return pg.Start(ctx)
}

// bootstrap does what CloudNativePG's initdb bootstrap and its managed
// roles do: the owner and the application database, the post-init SQL
// (in postgres, template1 and the application database, as the
// superuser), then every managed role with its password from its Secret.
func (pg *Postgres) bootstrap(ctx context.Context, m PGManifest, sec *Secrets) error {
	init := m.Cluster.Spec.Bootstrap.InitDB
	owner := init.Owner
	if owner == "" {
		owner = init.Database
	}
	ownerSecret := m.Cluster.Metadata.Name + "-app"
	if init.Secret != nil {
		ownerSecret = init.Secret.Name
	}
	sec.Set(ownerSecret, "username", owner)
	pw, err := sec.Get(ownerSecret, "password")
	if err != nil {
		return err
	}
	if err := pg.exec(ctx, "postgres",
		"CREATE ROLE "+pgx.Identifier{owner}.Sanitize()+" LOGIN PASSWORD "+quoteLiteral(pw),
		"CREATE DATABASE "+pgx.Identifier{init.Database}.Sanitize()+" OWNER "+pgx.Identifier{owner}.Sanitize()); err != nil {
		return fmt.Errorf("postgres bootstrap: %w", err)
	}
	for _, step := range []struct {
		db  string
		sql []string
	}{{"postgres", m.PostInitSQL}, {"template1", m.PostInitTemplateSQL}, {init.Database, m.PostInitApplicationSQL}} {
		if err := pg.exec(ctx, step.db, step.sql...); err != nil {
			return fmt.Errorf("postgres bootstrap SQL in %s: %w", step.db, err)
		}
	}
	var stmts []string
	for _, r := range m.Cluster.Spec.Managed.Roles {
		s, err := roleSQL(r, sec)
		if err != nil {
			return err
		}
		stmts = append(stmts, s...)
	}
	if err := pg.exec(ctx, "postgres", stmts...); err != nil {
		return fmt.Errorf("postgres managed roles: %w", err)
	}
	if len(m.PostInitApplicationSQL) > 0 {
		return nil
	}
	// Before the migrate step, each service created its database and
	// schema at start: give its login those rights, or it crash-loops.
	pg.Legacy = true
	stmts = nil
	for _, r := range m.Cluster.Spec.Managed.Roles {
		if r.Login && r.Ensure != "absent" {
			role := pgx.Identifier{r.Name}.Sanitize()
			stmts = append(stmts, "ALTER ROLE "+role+" CREATEDB",
				"GRANT CREATE ON DATABASE "+pgx.Identifier{init.Database}.Sanitize()+" TO "+role)
		}
	}
	if err := pg.exec(ctx, "postgres", stmts...); err != nil {
		return fmt.Errorf("postgres legacy grants: %w", err)
	}
	return nil
}

// roleSQL creates or alters one managed role to match its spec, as
// CloudNativePG reconciles it.
func roleSQL(r PGRole, sec *Secrets) ([]string, error) {
	name := pgx.Identifier{r.Name}.Sanitize()
	if r.Ensure == "absent" {
		return []string{"DROP ROLE IF EXISTS " + name}, nil
	}
	flag := func(on bool, yes string) string {
		if on {
			return yes
		}
		return "NO" + yes
	}
	attrs := []string{flag(r.Login, "LOGIN"), flag(r.Superuser, "SUPERUSER"), flag(r.CreateDB, "CREATEDB"),
		flag(r.CreateRole, "CREATEROLE"), flag(r.Replication, "REPLICATION"), flag(r.BypassRLS, "BYPASSRLS"),
		flag(r.Inherit == nil || *r.Inherit, "INHERIT")}
	if r.ConnectionLimit != nil {
		attrs = append(attrs, "CONNECTION LIMIT "+strconv.Itoa(*r.ConnectionLimit))
	}
	switch {
	case r.DisablePassword:
		attrs = append(attrs, "PASSWORD NULL")
	case r.PasswordSecret != nil:
		sec.Set(r.PasswordSecret.Name, "username", r.Name)
		pw, err := sec.Get(r.PasswordSecret.Name, "password")
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, "PASSWORD "+quoteLiteral(pw))
	}
	a := strings.Join(attrs, " ")
	out := []string{fmt.Sprintf(`DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN ALTER ROLE %s %s;
  ELSE CREATE ROLE %s %s; END IF;
END $$`, quoteLiteral(r.Name), name, a, name, a)}
	for _, in := range r.InRoles {
		out = append(out, "GRANT "+pgx.Identifier{in}.Sanitize()+" TO "+name)
	}
	return out, nil
}

// exec runs each statement (or script) as the superuser in database db.
func (pg *Postgres) exec(ctx context.Context, db string, stmts ...string) error {
	if len(stmts) == 0 {
		return nil
	}
	conn, err := pgx.Connect(ctx, pg.URL(db))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", db, err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%.120s: %w", s, err)
		}
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// chownToServer hands path to the postgres user when we run as root, as
// chaos.StartPostgres runs the server as that user then: PostgreSQL
// refuses a key file it does not own.
func chownToServer(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("hand %s to postgres: %w", filepath.Base(path), err)
	}
	return nil
}

// RoleRights is what a role the services log in as may do beyond its
// grants.
type RoleRights struct {
	Role string
	// Superuser, CreateDB and CreateRole are the role's attributes.
	Superuser, CreateDB, CreateRole bool
	// CreateOnDatabase says it may create schemas in the application
	// database (itself or through a role it inherits).
	CreateOnDatabase bool
}

// ServiceRoles returns the rights of every role connected to the
// application database other than the superuser: the roles the running
// services really log in as (pg_stat_activity).
func (pg *Postgres) ServiceRoles(ctx context.Context) ([]RoleRights, error) {
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return nil, fmt.Errorf("connect to read the service roles: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, has_database_privilege(r.rolname, $1, 'CREATE')
FROM pg_roles r
WHERE r.rolname IN (SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = $1 AND usename <> 'postgres')
ORDER BY r.rolname`, pg.Database)
	if err != nil {
		return nil, fmt.Errorf("read the service roles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RoleRights, error) {
		var r RoleRights
		err := row.Scan(&r.Role, &r.Superuser, &r.CreateDB, &r.CreateRole, &r.CreateOnDatabase)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the service roles: %w", err)
	}
	return out, nil
}

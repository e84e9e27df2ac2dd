package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/admin/internal/audit"
	"github.com/acube/platform/services/admin/internal/config"
	"github.com/acube/platform/services/admin/internal/store"
)

type auditPageView struct {
	Items      []audit.Entry `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

func TestIntegrationAuditLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "198.51.100.1")
	adaID := h.createAdmin(root.AccessToken, "ada@example.org", "admin", "analytical engine")
	h.createAdmin(root.AccessToken, "bob@example.org", "admin", "roberts long password")
	if r := h.do("POST", "/api/admin/admins/"+adaID+"/disable", root.AccessToken, nil, "198.51.100.1"); r.status != 200 {
		t.Fatalf("disable = %d %s", r.status, r.body)
	}

	// Another service audits an admin action of its own through its outbox;
	// here it is published as booking's relay would.
	rec := events.AuditRecord{ActorID: "bob-id", ActorEmail: "bob@example.org", Action: "status_changed", Entity: "sessions",
		EntityID: "5f0c", ClientIP: "198.51.100.9", Changes: json.RawMessage(`{"status":{"from":"pending","to":"confirmed"}}`),
		OccurredAt: time.Now().UTC()}
	ev, err := rec.Event("booking")
	if err != nil {
		t.Fatal(err)
	}
	publish(t, h.js, ev)
	publish(t, h.js, ev) // a redelivery changes nothing
	// A record that breaks the contract is dead-lettered, not stored.
	bad := events.Event{ID: ev.ID, Type: "audit.sessions.x", Source: "booking", OccurredAt: time.Now(), Data: json.RawMessage(`{"action":"x"}`)}
	bad.ID[15]++
	publish(t, h.js, bad)

	// The consumer applies events concurrently: wait for all of them.
	testkit.Eventually(t, "audit rows", func() bool {
		return h.countAudit("source = 'booking'") == 1 && h.countAudit("action = 'disable'") == 1 &&
			h.countAudit("action IN ('bootstrap', 'create')") == 3 && h.countAudit("action = 'login_succeeded'") == 1
	})

	query := func(q url.Values) auditPageView {
		t.Helper()
		r := h.do("GET", "/api/admin/audit-logs?"+q.Encode(), root.AccessToken, nil, "")
		if r.status != 200 {
			t.Fatalf("audit-logs?%s = %d %s", q.Encode(), r.status, r.body)
		}
		var p auditPageView
		r.json(t, &p)
		return p
	}
	tests := []struct {
		name  string
		query url.Values
		want  int
	}{
		// bob accepted his invitation, then booking's action
		{name: "by admin email", query: url.Values{"admin": {"bob@example.org"}}, want: 2},
		{name: "by action and entity", query: url.Values{"entity": {"admin_account"}, "action": {"create"}}, want: 2},
		{name: "by admin id", query: url.Values{"actor_id": {root.Admin.ID}, "action": {"disable"}}, want: 1},
		// created (invited), invitation accepted, disabled
		{name: "by entity id", query: url.Values{"entity": {"admin_account"}, "entity_id": {adaID}}, want: 3},
		{name: "from the future", query: url.Values{"from": {time.Now().Add(time.Hour).Format(time.RFC3339)}}, want: 0},
		{name: "up to today (a date)", query: url.Values{"to": {time.Now().UTC().Format(time.DateOnly)}, "entity": {"sessions"}}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(query(tt.query).Items); got != tt.want {
				t.Fatalf("%d entries, want %d", got, tt.want)
			}
		})
	}
	got := query(url.Values{"admin": {"bob@example.org"}}).Items[0]
	var changes struct{ Status struct{ From, To string } }
	_ = json.Unmarshal(got.Changes, &changes)
	if got.ClientIP != "198.51.100.9" || got.EntityID != "5f0c" || got.Source != "booking" || changes.Status.To != "confirmed" {
		t.Fatalf("entry = %+v changes %s", got, got.Changes)
	}
	if r := h.do("GET", "/api/admin/audit-logs?cursor=bogus", root.AccessToken, nil, ""); r.status != 422 {
		t.Fatalf("bad cursor = %d", r.status)
	}

	// Cursor pagination walks every entry once, newest first.
	var total int
	if err := h.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var last *audit.Entry
	q := url.Values{"limit": {"2"}}
	for {
		p := query(q)
		for i := range p.Items {
			e := p.Items[i]
			if seen[e.ID] {
				t.Fatalf("entry %s on two pages", e.ID)
			}
			if last != nil && e.OccurredAt.After(last.OccurredAt) {
				t.Fatalf("entries out of order")
			}
			seen[e.ID], last = true, &e
		}
		if p.NextCursor == "" {
			break
		}
		q.Set("cursor", p.NextCursor)
	}
	if len(seen) != total {
		t.Fatalf("pages held %d entries, the log %d", len(seen), total)
	}

	// No API changes the log.
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		if r := h.do(m, "/api/admin/audit-logs", root.AccessToken, nil, ""); r.status != 405 {
			t.Errorf("%s audit-logs = %d, want 405", m, r.status)
		}
	}
}

func publish(t *testing.T, js jetstream.JetStream, ev events.Event) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), ev.Subject(), b, jetstream.WithMsgID(ev.ID.String())); err != nil {
		t.Fatal(err)
	}
}

// servicePool opens the database as run does, with the harness's
// configuration: the pool every query of the running service goes through.
func (h *harness) servicePool() *pgxpool.Pool {
	h.t.Helper()
	cfg, err := config.Load(h.lookupEnv)
	if err != nil {
		h.t.Fatal(err)
	}
	pool, err := openDB(context.Background(), cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(pool.Close)
	return pool
}

func TestIntegrationAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	testkit.Eventually(t, "the bootstrap audit row", func() bool { return h.countAudit("action = 'bootstrap'") == 1 })
	ctx := context.Background()
	service := h.servicePool()

	var current, session string
	if err := service.QueryRow(ctx, `SELECT current_user, session_user`).Scan(&current, &session); err != nil {
		t.Fatal(err)
	}
	if current != store.AppRole || session == store.AppRole {
		t.Fatalf("service pool runs as %s (login %s), want %s through a member login", current, session, store.AppRole)
	}

	// The trigger refuses the owner; the app role is refused earlier, by
	// its privileges, so the messages tell the two apart (same SQLSTATE).
	const byTrigger, byPrivilege = "append-only", "permission denied"
	tests := []struct {
		name     string
		pool     *pgxpool.Pool
		role     string // SET LOCAL ROLE first, when set
		sql      string
		wantCode string
		wantMsg  string
	}{
		{name: "owner update", pool: h.pool, sql: `UPDATE audit_log SET action = 'nothing'`, wantCode: "42501", wantMsg: byTrigger},
		{name: "owner delete", pool: h.pool, sql: `DELETE FROM audit_log`, wantCode: "42501", wantMsg: byTrigger},
		{name: "owner truncate", pool: h.pool, sql: `TRUNCATE audit_log`, wantCode: "42501", wantMsg: byTrigger},
		{name: "app role update", pool: h.pool, role: store.AppRole, sql: `UPDATE audit_log SET action = 'nothing'`, wantCode: "42501", wantMsg: byPrivilege},
		{name: "app role delete", pool: h.pool, role: store.AppRole, sql: `DELETE FROM audit_log`, wantCode: "42501", wantMsg: byPrivilege},
		{name: "app role truncate", pool: h.pool, role: store.AppRole, sql: `TRUNCATE audit_log`, wantCode: "42501", wantMsg: byPrivilege},
		{name: "app role reads", pool: h.pool, role: store.AppRole, sql: `SELECT count(*) FROM audit_log`},
		{name: "app role appends", pool: h.pool, role: store.AppRole, sql: `INSERT INTO audit_log (id, source, action, entity, occurred_at) VALUES (gen_random_uuid(), 't', 'a', 'e', now())`},
		{name: "service update", pool: service, sql: `UPDATE audit_log SET action = 'nothing'`, wantCode: "42501", wantMsg: byPrivilege},
		{name: "service delete", pool: service, sql: `DELETE FROM audit_log`, wantCode: "42501", wantMsg: byPrivilege},
		{name: "service truncate", pool: service, sql: `TRUNCATE audit_log`, wantCode: "42501", wantMsg: byPrivilege},
		{name: "service drops the trigger", pool: service, sql: `DROP TRIGGER audit_log_append_only ON audit_log`, wantCode: "42501", wantMsg: "must be owner"},
		{name: "service disables the trigger", pool: service, sql: `ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`, wantCode: "42501", wantMsg: "must be owner"},
		{name: "service reads", pool: service, sql: `SELECT count(*) FROM audit_log`},
		{name: "service appends", pool: service, sql: `INSERT INTO audit_log (id, source, action, entity, occurred_at) VALUES (gen_random_uuid(), 't', 'a', 'e', now())`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, tt.pool, func(tx pgx.Tx) error {
				if tt.role != "" {
					if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+tt.role); err != nil {
						return err
					}
				}
				_, err := tx.Exec(ctx, tt.sql)
				return err
			})
			var pgErr *pgconn.PgError
			switch {
			case tt.wantCode == "" && err != nil:
				t.Fatalf("%s: %v", tt.sql, err)
			case tt.wantCode != "" && (!errors.As(err, &pgErr) || pgErr.Code != tt.wantCode || !strings.Contains(pgErr.Message, tt.wantMsg)):
				t.Fatalf("%s = %v, want SQLSTATE %s (%s)", tt.sql, err, tt.wantCode, tt.wantMsg)
			}
		})
	}
	if n := h.countAudit("action = 'bootstrap'"); n != 1 {
		t.Fatalf("bootstrap rows = %d after the attempts", n)
	}
}

// TestIntegrationAppRolePrivileges pins what the serving role may do to
// each relation of the schema, whichever migration set made it: full DML
// on the service's and the shared libraries' tables (outbox,
// consumed_events), append and read only on audit_log, read only on
// goose's version tables (the start checks them) and nothing on their
// sequences, and the same by default for tables and sequences that later
// migrations, run by the schema's owner, create.
func TestIntegrationAppRolePrivileges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()

	const privs = `SELECT c.relname, c.relkind,
	has_table_privilege($1, c.oid, 'SELECT'), has_table_privilege($1, c.oid, 'INSERT'),
	has_table_privilege($1, c.oid, 'UPDATE'), has_table_privilege($1, c.oid, 'DELETE'),
	has_table_privilege($1, c.oid, 'TRUNCATE'),
	CASE WHEN c.relkind = 'S' THEN has_sequence_privilege($1, c.oid, 'USAGE') ELSE false END
FROM pg_class c
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind IN ('r', 'p', 'S')
ORDER BY c.relname`
	type grant struct{ Select, Insert, Update, Delete, Truncate, Usage bool }
	var (
		dml     = grant{Select: true, Insert: true, Update: true, Delete: true}
		appends = grant{Select: true, Insert: true}
		reads   = grant{Select: true}
		none    = grant{}
		// USAGE for nextval; SELECT is also granted, and UPDATE is what
		// has_table_privilege reports for a sequence's setval: not granted.
		sequence = grant{Select: true, Usage: true}
	)
	check := func(t *testing.T, q interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	}, want func(name string, kind string) grant) map[string]bool {
		t.Helper()
		rows, err := q.Query(ctx, privs, store.AppRole)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for rows.Next() {
			var name, kind string
			var g grant
			if err := rows.Scan(&name, &kind, &g.Select, &g.Insert, &g.Update, &g.Delete, &g.Truncate, &g.Usage); err != nil {
				t.Fatal(err)
			}
			seen[name] = true
			if w := want(name, kind); g != w {
				t.Errorf("%s (%s): %s has %+v, want %+v", name, kind, store.AppRole, g, w)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	want := func(name, kind string) grant {
		switch {
		case strings.HasPrefix(name, "goose_") && kind == "S":
			return none
		case strings.HasPrefix(name, "goose_"):
			return reads
		case kind == "S":
			return sequence
		case name == "audit_log":
			return appends
		default:
			return dml
		}
	}
	seen := check(t, h.pool, want)
	for _, name := range []string{"accounts", "audit_log", "jobs", "outbox", "outbox_seq_seq", "consumed_events", "goose_admin", "goose_outbox", "goose_inbox"} {
		if !seen[name] {
			t.Errorf("no relation %s in the schema", name)
		}
	}

	// What later migrations create gets the same by default.
	err := pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+h.db.Owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE later (seq bigserial PRIMARY KEY)`); err != nil {
			return err
		}
		if seen := check(t, tx, want); !seen["later"] || !seen["later_seq_seq"] {
			t.Errorf("the new table or its sequence is missing: %v", seen)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}

	// The janitor's purge runs at start and then hourly, and only logs
	// its failures: run it on the service's pool to see it succeed.
	if err := store.Purge(ctx, h.servicePool(), "24 hours"); err != nil {
		t.Fatalf("purge as %s: %v", store.AppRole, err)
	}
}

var errRollback = errors.New("rollback")

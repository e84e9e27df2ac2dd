package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/admin/internal/audit"
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
	h.createAdmin(root.AccessToken, "bob@example.org", "admin", "bobs long password")
	if r := h.do("POST", "/api/admin/admins/"+adaID+"/disable", root.AccessToken, nil, "198.51.100.1"); r.status != 200 {
		t.Fatalf("disable = %d %s", r.status, r.body)
	}

	// Another service audits an admin action of its own through its outbox;
	// here it is published as booking's relay would.
	rec := audit.Record{ActorID: "bob-id", ActorEmail: "bob@example.org", Action: "status_changed", Entity: "sessions",
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
	eventually(t, "audit rows", func() bool {
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
		{name: "by admin email", query: url.Values{"admin": {"bob@example.org"}}, want: 1},
		{name: "by action and entity", query: url.Values{"entity": {"admin_account"}, "action": {"create"}}, want: 2},
		{name: "by admin id", query: url.Values{"actor_id": {root.Admin.ID}, "action": {"disable"}}, want: 1},
		{name: "by entity id", query: url.Values{"entity": {"admin_account"}, "entity_id": {adaID}}, want: 2},
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

func TestIntegrationAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	eventually(t, "the bootstrap audit row", func() bool { return h.countAudit("action = 'bootstrap'") == 1 })
	ctx := context.Background()

	tests := []struct {
		name     string
		role     string // "" is the owner (a superuser here)
		sql      string
		wantCode string
	}{
		{name: "owner update", sql: `UPDATE audit_log SET action = 'nothing'`, wantCode: "42501"},
		{name: "owner delete", sql: `DELETE FROM audit_log`, wantCode: "42501"},
		{name: "owner truncate", sql: `TRUNCATE audit_log`, wantCode: "42501"},
		{name: "app role update", role: store.AppRole, sql: `UPDATE audit_log SET action = 'nothing'`, wantCode: "42501"},
		{name: "app role delete", role: store.AppRole, sql: `DELETE FROM audit_log`, wantCode: "42501"},
		{name: "app role truncate", role: store.AppRole, sql: `TRUNCATE audit_log`, wantCode: "42501"},
		{name: "app role reads", role: store.AppRole, sql: `SELECT count(*) FROM audit_log`},
		{name: "app role appends", role: store.AppRole, sql: `INSERT INTO audit_log (id, source, action, entity, occurred_at) VALUES (gen_random_uuid(), 't', 'a', 'e', now())`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, h.pool, func(tx pgx.Tx) error {
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
			case tt.wantCode != "" && (!errors.As(err, &pgErr) || pgErr.Code != tt.wantCode):
				t.Fatalf("%s = %v, want SQLSTATE %s", tt.sql, err, tt.wantCode)
			}
		})
	}
	if n := h.countAudit("action = 'bootstrap'"); n != 1 {
		t.Fatalf("bootstrap rows = %d after the attempts", n)
	}
}

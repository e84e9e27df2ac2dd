package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/acube/platform/libs/testkit"
)

// page is any list page of the API: items and, exactly when another page
// follows, next_cursor.
type page struct {
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

// walk follows a list from its first page with ?limit=1 and returns the
// ids in the order served; it fails when a page without next_cursor is
// not the last or when a page repeats an item.
func (h *harness) walk(t *testing.T, path, token string) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	url := path + sep + "limit=1"
	for range 100 {
		r := h.do("GET", url, token, nil, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", url, r.status, r.body)
		}
		var p page
		r.json(t, &p)
		if len(p.Items) > 1 {
			t.Fatalf("GET %s served %d items", url, len(p.Items))
		}
		for _, it := range p.Items {
			id, _ := it["id"].(string)
			if seen[id] {
				t.Fatalf("GET %s repeated %s", url, id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
		if p.NextCursor == nil {
			return ids
		}
		if *p.NextCursor == "" || len(p.Items) == 0 {
			t.Fatalf("GET %s: next_cursor %q with %d items", url, *p.NextCursor, len(p.Items))
		}
		url = path + sep + "limit=1&cursor=" + *p.NextCursor
	}
	t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

// TestIntegrationListsPage checks the one paging rule of every list on
// the admin service (limit 1-200, cursor, next_cursor exactly when
// another page follows, 422 naming the parameter otherwise), past the
// first page.
func TestIntegrationListsPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	for _, email := range []string{"ada@example.org", "bob@example.org", "cy@example.org"} {
		h.invite(root.AccessToken, email, "admin")
	}

	admins := h.walk(t, "/api/admin/admins", root.AccessToken)
	if len(admins) != 4 {
		t.Fatalf("paged through %d admins, want 4", len(admins))
	}
	var all page
	h.do("GET", "/api/admin/admins", root.AccessToken, nil, "").json(t, &all)
	if len(all.Items) != 4 || all.NextCursor != nil {
		t.Fatalf("one page of all admins = %d items, next_cursor %v", len(all.Items), all.NextCursor)
	}
	for i, it := range all.Items {
		if it["id"] != admins[i] {
			t.Fatalf("paged order %v differs from the full list's at %d", admins, i)
		}
	}

	// The bootstrap, three invitations and a login: more than one page.
	testkit.Eventually(t, "audit entries", func() bool { return h.countAudit("true") >= 5 })
	if n := len(h.walk(t, "/api/admin/audit-logs?entity=admin_account", root.AccessToken)); n < 4 {
		t.Fatalf("paged through %d audit entries, want at least 4", n)
	}

	for _, path := range []string{"/api/admin/admins", "/api/admin/audit-logs", "/api/admin/dead-letters"} {
		for _, tt := range []struct{ query, field string }{
			{"?limit=0", "limit"}, {"?limit=-5", "limit"}, {"?limit=201", "limit"}, {"?limit=1.5", "limit"},
			{"?limit=ten", "limit"}, {"?cursor=%21%21", "cursor"}, {"?cursor=bm90LWEtY3Vyc29y", "cursor"},
		} {
			r := h.do("GET", path+tt.query, root.AccessToken, nil, "")
			var e struct {
				Fields map[string]string `json:"fields"`
			}
			r.json(t, &e)
			if r.status != http.StatusUnprocessableEntity || e.Fields[tt.field] == "" {
				t.Errorf("GET %s%s = %d %s, want 422 naming %s", path, tt.query, r.status, r.body, tt.field)
			}
		}
		if r := h.do("GET", path+"?limit=200", root.AccessToken, nil, ""); r.status != http.StatusOK {
			t.Errorf("GET %s?limit=200 = %d %s", path, r.status, r.body)
		}
	}
}

// TestIntegrationAuthInputErrors: a request that is wrong is a 422 naming
// its fields, not a refused credential (401); a logout without a token
// is a 401, not a 204.
func TestIntegrationAuthInputErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")

	for _, tt := range []struct {
		name, path string
		body       any
		want       int
		fields     []string
	}{
		{"login {}", "/api/admin/auth/login", map[string]string{}, 422, []string{"email", "password"}},
		{"login, not an email", "/api/admin/auth/login", map[string]string{"email": "root", "password": "x"}, 422, []string{"email"}},
		{"login, two addresses", "/api/admin/auth/login", map[string]string{"email": "a@b.org, c@d.org", "password": "x"}, 422, []string{"email"}},
		{"refresh {}", "/api/admin/auth/refresh", map[string]string{}, 422, []string{"refresh_token"}},
		{"mfa {}", "/api/admin/auth/mfa", map[string]string{}, 422, []string{"mfa_token"}},
		{"mfa enroll {}", "/api/admin/auth/mfa/enroll", map[string]string{}, 422, []string{"mfa_token"}},
		{"logout {}", "/api/admin/auth/logout", map[string]string{}, 401, nil},
		{"logout, unknown token", "/api/admin/auth/logout", map[string]string{"refresh_token": "nope"}, 204, nil},
		{"login, wrong password", "/api/admin/auth/login", map[string]string{"email": "root@example.org", "password": "wrong"}, 401, nil},
	} {
		r := h.do("POST", tt.path, "", tt.body, "")
		var e struct {
			Fields map[string]string `json:"fields"`
		}
		if len(r.body) > 0 {
			r.json(t, &e)
		}
		if r.status != tt.want {
			t.Errorf("%s = %d %s, want %d", tt.name, r.status, r.body, tt.want)
		}
		for _, f := range tt.fields {
			if e.Fields[f] == "" {
				t.Errorf("%s: fields %v lack %s", tt.name, e.Fields, f)
			}
		}
	}

	// A superadmin cannot disable itself: 409, as documented.
	if r := h.do("POST", "/api/admin/admins/"+root.Admin.ID+"/disable", root.AccessToken, nil, ""); r.status != http.StatusConflict {
		t.Errorf("disable self = %d %s, want 409", r.status, r.body)
	}
	// Who am I, as the document's AdminIdentity says.
	var me struct{ ID, Email, Name, Role string }
	if r := h.do("GET", "/api/admin/me", root.AccessToken, nil, ""); r.status != http.StatusOK {
		t.Fatalf("me = %d %s", r.status, r.body)
	} else {
		r.json(t, &me)
	}
	if me.ID != root.Admin.ID || me.Role != "superadmin" || me.Email != "root@example.org" {
		t.Errorf("me = %+v", me)
	}
	// The documented invitation, {email, name, role}, creates an admin.
	r := h.do("POST", "/api/admin/admins", root.AccessToken, map[string]string{"email": "eve@example.org", "name": "Eve", "role": "admin"}, "")
	if r.status != http.StatusCreated {
		t.Fatalf("invite = %d %s", r.status, r.body)
	}
	// The old, password-carrying shape is refused, as the document says.
	r = h.do("POST", "/api/admin/admins", root.AccessToken, map[string]string{"email": "old@example.org", "name": "Old", "password": "long enough password"}, "")
	if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
		t.Fatalf("invite with a password = %d %s", r.status, r.body)
	}
	// Logging out with the refresh token ends the session.
	if r := h.do("POST", "/api/admin/auth/logout", "", map[string]string{"refresh_token": root.RefreshToken}, ""); r.status != http.StatusNoContent {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
}

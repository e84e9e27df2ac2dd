package main

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// adminItem is one admin of GET /api/admin/admins.
type adminItem struct {
	ID         string  `json:"id"`
	Email      string  `json:"email"`
	Role       string  `json:"role"`
	Status     string  `json:"status"`
	MFAEnabled bool    `json:"mfa_enabled"`
	DisabledAt *string `json:"disabled_at"`
}

type adminList struct {
	Items      []adminItem `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

// TestIntegrationListAdmins pages through GET /api/admin/admins: oldest
// first, each admin once, next_cursor exactly when a page follows, every
// status shown; only a superadmin may list, and bad paging parameters are
// a 422 naming each of them.
func TestIntegrationListAdmins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	const staffPassword = "a long and unusual passphrase 42"
	staff := h.createAdmin(root.AccessToken, "ada@example.org", "admin", staffPassword)
	bob := h.invite(root.AccessToken, "bob@example.org", "admin")
	h.invite(root.AccessToken, "cy@example.org", "superadmin")
	if r := h.do("POST", "/api/admin/admins/"+bob+"/disable", root.AccessToken, nil, ""); r.status != http.StatusOK {
		t.Fatalf("disable bob = %d %s", r.status, r.body)
	}
	// A disabled admin is not invited again, nor is one who never was.
	if r := h.do("POST", "/api/admin/admins/"+bob+"/invitation", root.AccessToken, nil, ""); r.status != http.StatusConflict {
		t.Errorf("reinvite disabled bob = %d %s, want 409", r.status, r.body)
	}
	if r := h.do("POST", "/api/admin/admins/"+uuid.NewString()+"/invitation", root.AccessToken, nil, ""); r.status != http.StatusNotFound {
		t.Errorf("reinvite nobody = %d %s, want 404", r.status, r.body)
	}

	var pages []adminList
	cursor := ""
	for len(pages) < 5 {
		path := "/api/admin/admins?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := h.do("GET", path, root.AccessToken, nil, "")
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s = %d (Cache-Control %q) %s", path, r.status, r.header.Get("Cache-Control"), r.body)
		}
		var p adminList
		r.json(t, &p)
		pages = append(pages, p)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(pages) != 2 || len(pages[0].Items) != 3 || len(pages[1].Items) != 1 {
		t.Fatalf("pages of 3 over 4 admins: %+v", pages)
	}
	var all []adminItem
	for _, p := range pages {
		all = append(all, p.Items...)
	}
	var emails []string
	for _, a := range all {
		emails = append(emails, a.Email)
	}
	if want := []string{"root@example.org", "ada@example.org", "bob@example.org", "cy@example.org"}; !slices.Equal(emails, want) {
		t.Errorf("admins in list order %v, want %v (oldest first, each once)", emails, want)
	}
	want := []struct{ role, status string }{
		{role: "superadmin", status: "active"}, {role: "admin", status: "active"},
		{role: "admin", status: "disabled"}, {role: "superadmin", status: "invited"},
	}
	for i, a := range all {
		if a.Role != want[i].role || a.Status != want[i].status {
			t.Errorf("%s: role %s, status %s; want %s, %s", a.Email, a.Role, a.Status, want[i].role, want[i].status)
		}
		if (a.Status == "disabled") != (a.DisabledAt != nil) {
			t.Errorf("%s: status %s with disabled_at %v", a.Email, a.Status, a.DisabledAt)
		}
	}
	if all[1].ID != staff || all[2].ID != bob {
		t.Errorf("ids %s, %s; want the invited admins' %s, %s", all[1].ID, all[2].ID, staff, bob)
	}
	if !all[0].MFAEnabled {
		t.Error("the bootstrapped superadmin is listed without TOTP")
	}

	// Who may list.
	ada := h.login("ada@example.org", staffPassword, "")
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{name: "no token", want: http.StatusUnauthorized},
		{name: "a forged token", token: "not.a.jwt", want: http.StatusUnauthorized},
		{name: "an admin who is not a superadmin", token: ada.AccessToken, want: http.StatusForbidden},
	} {
		if r := h.do("GET", "/api/admin/admins", tt.token, nil, ""); r.status != tt.want {
			t.Errorf("%s: GET /api/admin/admins = %d %s, want %d", tt.name, r.status, r.body, tt.want)
		}
	}

	// Every bad parameter at once, each named.
	r := h.do("GET", "/api/admin/admins?limit=0&cursor=nonsense", root.AccessToken, nil, "")
	var e struct {
		Fields map[string]string `json:"fields"`
	}
	r.json(t, &e)
	if r.status != http.StatusUnprocessableEntity || e.Fields["limit"] == "" || e.Fields["cursor"] == "" {
		t.Errorf("GET ?limit=0&cursor=nonsense = %d %s, want 422 naming limit and cursor", r.status, r.body)
	}
}

// raw sends body as it is, JSON or not, through the validating client.
func (h *harness) raw(method, path, token, body string) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestIntegrationMalformedRequests: a body that is not JSON, an id that
// names nothing and a filter that does not parse are answered with the
// documented 4xx of each operation, never a 5xx (the client checks each
// answer against the OpenAPI document).
func TestIntegrationMalformedRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	nobody := uuid.NewString()
	tests := []struct {
		method, path, body string
		auth               bool
		want               int
	}{
		{method: "POST", path: "/api/admin/auth/login", body: "{", want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/auth/refresh", body: "{", want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/auth/logout", body: "{", auth: true, want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/auth/mfa", body: "{", want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/invitations/accept", body: "{", want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/me/password", body: "{", auth: true, want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/me/totp/confirm", body: "{", auth: true, want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/admins", body: "{", auth: true, want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/bulk/delete", body: "{", auth: true, want: http.StatusBadRequest},
		{method: "POST", path: "/api/admin/admins/not-an-id/disable", auth: true, want: http.StatusNotFound},
		{method: "POST", path: "/api/admin/admins/" + nobody + "/disable", auth: true, want: http.StatusNotFound},
		{method: "POST", path: "/api/admin/admins/not-an-id/totp/reset", auth: true, want: http.StatusNotFound},
		{method: "POST", path: "/api/admin/admins/not-an-id/invitation", auth: true, want: http.StatusNotFound},
		{method: "GET", path: "/api/admin/jobs/not-an-id", auth: true, want: http.StatusNotFound},
		{method: "GET", path: "/api/admin/jobs/" + nobody, auth: true, want: http.StatusNotFound},
		{method: "GET", path: "/api/admin/dead-letters/0", auth: true, want: http.StatusNotFound},
		{method: "GET", path: "/api/admin/dead-letters/seven", auth: true, want: http.StatusNotFound},
		{method: "POST", path: "/api/admin/dead-letters/seven/replay", auth: true, want: http.StatusNotFound},
		{method: "DELETE", path: "/api/admin/dead-letters/seven", auth: true, want: http.StatusNotFound},
		{method: "GET", path: "/api/admin/dead-letters?after=seven", auth: true, want: http.StatusUnprocessableEntity},
		{method: "GET", path: "/api/admin/audit-logs?from=yesterday", auth: true, want: http.StatusUnprocessableEntity},
		{method: "GET", path: "/api/admin/audit-logs?to=2025-13-45", auth: true, want: http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		token := ""
		if tt.auth {
			token = root.AccessToken
		}
		var r reply
		if tt.body != "" {
			r = h.raw(tt.method, tt.path, token, tt.body)
		} else {
			r = h.do(tt.method, tt.path, token, nil, "")
		}
		if r.status != tt.want {
			t.Errorf("%s %s %q = %d %s, want %d", tt.method, tt.path, tt.body, r.status, r.body, tt.want)
		}
	}
	// A filter by an admin's id, and by the bootstrapped superadmin.
	if r := h.do("GET", "/api/admin/audit-logs?admin="+root.Admin.ID, root.AccessToken, nil, ""); r.status != http.StatusOK {
		t.Errorf("audit logs of an admin by id = %d %s", r.status, r.body)
	}
}

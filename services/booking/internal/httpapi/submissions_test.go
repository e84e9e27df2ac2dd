package httpapi

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
)

func TestIntegrationVolunteersAndContact(t *testing.T) {
	h := newHarness(t)

	t.Run("volunteer: submit, list, filter, set status", func(t *testing.T) {
		res := h.do("POST", "/api/volunteers", `{"email":"vol@example.org","name":"Vee","interests":"events","availability":"weekends"}`)
		if res.status != 201 {
			t.Fatalf("apply: %d %s", res.status, res.body)
		}
		var v volunteerResponse
		res.json(t, &v)
		if v.Status != "pending" {
			t.Fatalf("status %q", v.Status)
		}
		if n := len(h.outbox("booking.volunteer.applied")); n != 1 {
			t.Fatalf("%d applied events", n)
		}
		if res := h.asAdmin("PATCH", "/api/volunteers/"+v.ID+"/status", `{"status":"approved"}`); res.status != 200 {
			t.Fatalf("set status: %d %s", res.status, res.body)
		}
		if res := h.asAdmin("PATCH", "/api/volunteers/"+v.ID+"/status", `{"status":"hired"}`); res.status != 422 {
			t.Fatalf("bad status: %d %s", res.status, res.body)
		}
		var list listResponse[volunteerResponse]
		h.asAdmin("GET", "/api/volunteers?status=approved", "").json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != v.ID {
			t.Fatalf("approved list %+v", list)
		}
		h.asAdmin("GET", "/api/volunteers?status=pending", "").json(t, &list)
		if len(list.Items) != 0 {
			t.Fatalf("pending list %+v", list)
		}
		if n := len(h.outbox("audit.volunteers.status_changed")); n != 1 {
			t.Fatalf("%d audit events", n)
		}
	})

	t.Run("contact: the event never carries the message", func(t *testing.T) {
		res := h.do("POST", "/api/contact", `{"email":"c@example.org","name":"Cee","subject":"Hi","message":"=HYPERLINK(\"http://evil\")"}`)
		if res.status != 201 {
			t.Fatalf("contact: %d %s", res.status, res.body)
		}
		evs := h.outbox("booking.contact.received")
		if len(evs) != 1 || strings.Contains(string(evs[0].Data), "HYPERLINK") {
			t.Fatalf("events %v", evs)
		}
		var c contactResponse
		res.json(t, &c)
		if res := h.asAdmin("PATCH", "/api/contact/"+c.ID+"/status", `{"status":"read"}`); res.status != 200 {
			t.Fatalf("set status: %d %s", res.status, res.body)
		}
		if res := h.asAdmin("PATCH", "/api/contact/0190a000-0000-7000-8000-000000000001/status", `{"status":"read"}`); res.status != 404 {
			t.Fatalf("unknown: %d", res.status)
		}
	})

	t.Run("export neutralises formulas and is audited", func(t *testing.T) {
		res := h.asAdmin("GET", "/api/admin/bulk/export/contact", "")
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("export: %d %v %s", res.status, res.header, res.body)
		}
		recs, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[0][0] != "id" || recs[1][5] != `'=HYPERLINK("http://evil")` {
			t.Fatalf("csv %q", recs)
		}
		if n := len(h.outbox("audit.contact.exported")); n != 1 {
			t.Fatalf("%d export audit events", n)
		}
		for _, tt := range []struct {
			path       string
			wantStatus int
		}{
			{"/api/admin/bulk/export/admins", 404},
			{"/api/admin/bulk/export/sessions?status=bogus", 422},
			{"/api/admin/bulk/export/sessions?from=yesterday", 422},
			{"/api/admin/bulk/export/events", 200},
			{"/api/admin/bulk/export/volunteers?status=approved", 200},
		} {
			if res := h.asAdmin("GET", tt.path, ""); res.status != tt.wantStatus {
				t.Errorf("%s: %d, want %d: %s", tt.path, res.status, tt.wantStatus, res.body)
			}
		}
	})
}

func TestIntegrationListsPageByCursor(t *testing.T) {
	h := newHarness(t)
	const n = 7
	for i := range n {
		if res := h.do("POST", "/api/sessions/book", bookBody(fmt.Sprintf("page%d@example.org", i), futureDate(3))); res.status != 201 {
			t.Fatalf("book: %d", res.status)
		}
	}
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("pagination does not end")
		}
		var page listResponse[sessionResponse]
		res := h.asAdmin("GET", "/api/sessions?limit=3&cursor="+cursor, "")
		if res.status != 200 {
			t.Fatalf("page: %d %s", res.status, res.body)
		}
		res.json(t, &page)
		for _, s := range page.Items {
			ids = append(ids, s.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(ids) != n {
		t.Fatalf("%d sessions over the pages, want %d", len(ids), n)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] { // UUIDv7: newest first means descending ids
			t.Fatalf("order broken at %d: %v", i, ids)
		}
	}
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantCount  int
	}{
		{name: "limit too large", query: "limit=1000", wantStatus: 422},
		{name: "limit zero", query: "limit=0", wantStatus: 422},
		{name: "limit not a number", query: "limit=ten", wantStatus: 422},
		{name: "forged cursor", query: "cursor=abc", wantStatus: 422},
		{name: "bad status", query: "status=lost", wantStatus: 422},
		{name: "date range excludes all", query: "to=2000-01-01", wantStatus: 200, wantCount: 0},
		{name: "inverted range", query: "from=2030-01-01&to=2020-01-01", wantStatus: 422},
		{name: "status filter", query: "status=pending", wantStatus: 200, wantCount: n},
		{name: "sql metacharacters in status", query: "status=pending'%20OR%201=1--", wantStatus: 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.asAdmin("GET", "/api/sessions?"+tt.query, "")
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if res.status == 200 {
				var page listResponse[sessionResponse]
				res.json(t, &page)
				if len(page.Items) != tt.wantCount {
					t.Fatalf("%d items, want %d", len(page.Items), tt.wantCount)
				}
			}
		})
	}
}

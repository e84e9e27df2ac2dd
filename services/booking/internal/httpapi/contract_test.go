package httpapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/booking/internal/booking"
)

// TestIntegrationStatusReason: PATCH …/status of volunteers and contact
// messages takes the documented optional reason (issue 14), bounded like
// a session's; it is kept as status_reason (answer, list, export) and
// goes into the status event and the audit record.
func TestIntegrationStatusReason(t *testing.T) {
	h := newHarness(t)
	var v volunteerResponse
	h.do("POST", "/api/volunteers", `{"email":"r@example.org","name":"Ree"}`).json(t, &v)
	var c contactResponse
	h.do("POST", "/api/contact", `{"email":"r@example.org","name":"Ree","message":"hello"}`).json(t, &c)

	tests := []struct {
		name       string
		path       string
		status     string
		list       string
		export     string
		subject    string
		entity     string
		wantStatus int
	}{
		{name: "volunteer", path: "/api/volunteers/" + v.ID + "/status", status: "approved", list: "/api/volunteers", export: "/api/admin/bulk/export/volunteers",
			subject: "audit.volunteers.status_changed", entity: "booking.volunteer.status_changed", wantStatus: 200},
		{name: "contact", path: "/api/contact/" + c.ID + "/status", status: "replied", list: "/api/contact", export: "/api/admin/bulk/export/contact",
			subject: "audit.contact.status_changed", entity: "booking.contact.status_changed", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tooLong := fmt.Sprintf(`{"status":%q,"reason":%q}`, tt.status, strings.Repeat("x", 1001))
			res := h.asAdmin("PATCH", tt.path, tooLong)
			if res.status != 422 || !strings.Contains(string(res.body), `"reason"`) {
				t.Fatalf("1001-character reason: %d %s", res.status, res.body)
			}
			if res := h.asAdmin("PATCH", tt.path, fmt.Sprintf(`{"status":%q,"reason":"a\u0007bell"}`, tt.status)); res.status != 422 {
				t.Fatalf("control character in reason: %d %s", res.status, res.body)
			}
			res = h.asAdmin("PATCH", tt.path, fmt.Sprintf(`{"status":%q,"reason":"  spoke on the phone  "}`, tt.status))
			if res.status != tt.wantStatus {
				t.Fatalf("with reason: %d %s", res.status, res.body)
			}
			var got struct {
				StatusReason string `json:"status_reason"`
			}
			res.json(t, &got)
			if got.StatusReason != "spoke on the phone" {
				t.Errorf("status_reason %q in the answer", got.StatusReason)
			}
			var list struct {
				Items []struct {
					StatusReason string `json:"status_reason"`
				} `json:"items"`
			}
			h.asAdmin("GET", tt.list, "").json(t, &list)
			if len(list.Items) != 1 || list.Items[0].StatusReason != "spoke on the phone" {
				t.Errorf("list %+v, want the reason kept", list)
			}
			recs, err := csv.NewReader(bytes.NewReader(h.asAdmin("GET", tt.export, "").body)).ReadAll()
			if err != nil || len(recs) != 2 || !slices.Contains(recs[1], "spoke on the phone") || !slices.Contains(recs[0], "status_reason") {
				t.Errorf("export %q %v, want the status_reason column", recs, err)
			}
			_, changes := auditRecord(t, h, tt.subject)
			if got := string(changes["reason"]); got != `"spoke on the phone"` {
				t.Errorf("audit reason %s, want the trimmed reason", got)
			}
			evs := h.outbox(tt.entity)
			if len(evs) != 1 {
				t.Fatalf("%d %s events", len(evs), tt.entity)
			}
			var ev booking.StatusChanged
			if err := evs[0].UnmarshalData(&ev); err != nil {
				t.Fatal(err)
			}
			if ev.Reason != "spoke on the phone" || ev.Status != tt.status {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

// TestIntegrationEveryListPages: each booking list pages with limit
// 1–200, answers a bad limit or cursor with 422 naming the field, and
// gives next_cursor exactly when another page follows.
func TestIntegrationEveryListPages(t *testing.T) {
	h := newHarness(t)
	const n = 3
	ev := h.createEvent("Paged", 100)
	for i := range n - 1 { // with ev, n events
		h.createEvent(fmt.Sprintf("Paged %d", i), 10)
	}
	for i := range n {
		email := fmt.Sprintf("list%d@example.org", i)
		for _, req := range []struct{ path, body string }{
			{"/api/sessions/book", bookBody(email, futureDate(3))},
			{"/api/events/" + ev.ID + "/register", regBody(email)},
			{"/api/volunteers", `{"email":"` + email + `","name":"Vee"}`},
			{"/api/contact", `{"email":"` + email + `","name":"Cee","message":"hi"}`},
		} {
			if res := h.do("POST", req.path, req.body); res.status != 201 {
				t.Fatalf("%s: %d %s", req.path, res.status, res.body)
			}
		}
	}
	lists := []string{"/api/sessions", "/api/events", "/api/events/" + ev.ID + "/registrations", "/api/volunteers", "/api/contact"}
	for _, path := range lists {
		t.Run(path, func(t *testing.T) {
			type page struct {
				Items      []map[string]any `json:"items"`
				NextCursor *string          `json:"next_cursor"`
			}
			get := func(query string) (response, page) {
				t.Helper()
				res := h.asAdmin("GET", path+"?"+query, "")
				var p page
				if res.status == 200 {
					res.json(t, &p)
				}
				return res, p
			}
			pagingTests := []struct {
				name      string
				limit     int
				wantPages []int
			}{
				{name: "pages of two", limit: 2, wantPages: []int{2, 1}},
				{name: "one page exactly full", limit: n, wantPages: []int{n}},
				{name: "pages of one", limit: 1, wantPages: []int{1, 1, 1}},
				{name: "the largest limit", limit: keyset.MaxLimit, wantPages: []int{n}},
			}
			for _, tt := range pagingTests {
				seen := map[string]bool{}
				cursor := ""
				for i, want := range tt.wantPages {
					res, p := get(fmt.Sprintf("limit=%d&cursor=%s", tt.limit, cursor))
					if res.status != 200 {
						t.Fatalf("%s, page %d: %d %s", tt.name, i+1, res.status, res.body)
					}
					if len(p.Items) != want {
						t.Fatalf("%s, page %d: %d items, want %d", tt.name, i+1, len(p.Items), want)
					}
					for _, it := range p.Items {
						id, _ := it["id"].(string)
						if seen[id] {
							t.Fatalf("%s, page %d: %s again", tt.name, i+1, id)
						}
						seen[id] = true
					}
					last := i == len(tt.wantPages)-1
					if gotNext := p.NextCursor != nil; gotNext == last {
						t.Fatalf("%s, page %d: next_cursor present=%v, want %v (%s)", tt.name, i+1, gotNext, !last, res.body)
					}
					if p.NextCursor != nil {
						cursor = *p.NextCursor
					}
				}
			}
			if res, p := get(""); res.status != 200 || len(p.Items) != n || p.NextCursor != nil {
				t.Fatalf("default limit: %d %s", res.status, res.body)
			}
			invalid := []struct{ query, field string }{
				{"limit=0", "limit"},
				{"limit=-5", "limit"},
				{"limit=201", "limit"},
				{"limit=ten", "limit"},
				{"limit=1.5", "limit"},
				{"cursor=abc", "cursor"},
				{"cursor=" + keyset.Cursor{}.Encode() + "x", "cursor"},
			}
			for _, tt := range invalid {
				res, _ := get(tt.query)
				var e struct {
					Fields map[string]string `json:"fields"`
				}
				if res.status == 422 {
					res.json(t, &e)
				}
				if res.status != 422 || e.Fields[tt.field] == "" {
					t.Errorf("%s: %d %s, want 422 naming %s", tt.query, res.status, res.body, tt.field)
				}
			}
		})
	}
}

// TestIntegrationExportRegistrations: every entity of the document's
// Entity enum exports, registrations included, formula-safe.
func TestIntegrationExportRegistrations(t *testing.T) {
	h := newHarness(t)
	ev := h.createEvent("Export me", 1)
	for _, body := range []string{
		`{"email":"a@example.org","name":"=cmd|' /C calc'!A0"}`,
		`{"email":"b@example.org","name":"Bee"}`,
	} {
		if res := h.do("POST", "/api/events/"+ev.ID+"/register", body); res.status != 201 {
			t.Fatalf("register: %d %s", res.status, res.body)
		}
	}
	res := h.asAdmin("GET", "/api/admin/bulk/export/registrations", "")
	if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %v %s", res.status, res.header, res.body)
	}
	recs, err := csv.NewReader(bytes.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != "id,event_id,event_title,email,name,phone,status,cancelled_by,cancel_reason,created_at,updated_at" {
		t.Fatalf("csv %q", recs)
	}
	byEmail := map[string][]string{}
	for _, rec := range recs[1:] {
		byEmail[rec[3]] = rec
	}
	if a := byEmail["a@example.org"]; a[2] != "Export me" || a[4] != `'=cmd|' /C calc'!A0` || a[6] != "confirmed" {
		t.Errorf("first registrant %q", a)
	}
	if b := byEmail["b@example.org"]; b[6] != "waitlisted" {
		t.Errorf("second registrant %q", b)
	}
	if n := len(h.outbox("audit.registrations.exported")); n != 1 {
		t.Errorf("%d export audit events", n)
	}
	for _, tt := range []struct {
		query      string
		wantStatus int
		wantRows   int
	}{
		{query: "status=waitlisted", wantStatus: 200, wantRows: 1},
		{query: "status=pending", wantStatus: 422},
	} {
		res := h.asAdmin("GET", "/api/admin/bulk/export/registrations?"+tt.query, "")
		if res.status != tt.wantStatus {
			t.Fatalf("%s: %d %s", tt.query, res.status, res.body)
		}
		if res.status == 200 {
			if n := bytes.Count(res.body, []byte("\n")) - 1; n != tt.wantRows {
				t.Errorf("%s: %d rows, want %d", tt.query, n, tt.wantRows)
			}
		}
	}
	if len(booking.ExportEntities()) != 5 {
		t.Fatalf("export entities %v", booking.ExportEntities())
	}
	for _, entity := range booking.ExportEntities() {
		res := h.asAdmin("GET", "/api/admin/bulk/export/"+entity, "")
		if res.status != 200 {
			t.Errorf("export %s: %d %s", entity, res.status, res.body)
		}
		if len(res.header.Values("Trailer")) != 0 {
			t.Errorf("export %s announces trailers %v", entity, res.header.Values("Trailer"))
		}
	}
}

// TestStreamCSV: a complete export has no trailers; one that fails after
// its first bytes is aborted, so the client sees a broken body rather
// than a short file that looks whole, and the row count is logged and
// counted.
func TestStreamCSV(t *testing.T) {
	const rows = 3000 // well past the server's buffers, so the 200 is sent
	tests := []struct {
		name        string
		failAfter   int // rows written before the failure; -1 never fails
		wantStatus  int
		wantBodyErr bool
		wantOutcome string
	}{
		{name: "complete", failAfter: -1, wantStatus: 200, wantOutcome: "complete"},
		{name: "fails mid-stream", failAfter: rows, wantStatus: 200, wantBodyErr: true, wantOutcome: "aborted"},
		{name: "fails before the header", failAfter: 0, wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &testkit.SyncBuffer{}
			reg := prometheus.NewRegistry()
			m, err := NewExportMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			a := New(nil, nil, nil, slog.New(slog.NewJSONHandler(logs, nil)), Config{Exports: m})
			r := chi.NewRouter()
			r.Get("/api/admin/bulk/export/{entity}", func(w http.ResponseWriter, r *http.Request) {
				a.streamCSV(w, r, "sessions", func(write func([]string) error) (int, error) {
					if tt.failAfter == 0 {
						return 0, fmt.Errorf("look up the entity: %w", booking.ErrNotFound)
					}
					if err := write([]string{"id", "name"}); err != nil {
						return 0, err
					}
					for i := range rows {
						if err := write([]string{fmt.Sprint(i), "=1+1"}); err != nil {
							return i, err
						}
					}
					if tt.failAfter > 0 {
						return rows, errors.New("connection reset mid-export")
					}
					return rows, nil
				})
			})
			srv := httptest.NewServer(apitest.New(t).Handler(r))
			defer srv.Close()
			req, err := http.NewRequest("GET", srv.URL+"/api/admin/bulk/export/sessions", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer checked-elsewhere")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, readErr := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if (readErr != nil) != tt.wantBodyErr {
				t.Fatalf("reading the body: %v, want an error: %v", readErr, tt.wantBodyErr)
			}
			if len(resp.Trailer) != 0 || len(resp.Header.Values("Trailer")) != 0 {
				t.Errorf("trailers %v %v", resp.Header.Values("Trailer"), resp.Trailer)
			}
			if tt.wantOutcome == "" {
				return
			}
			if got := testutil.ToFloat64(m.rows.WithLabelValues("sessions", tt.wantOutcome)); got != rows {
				t.Errorf("%s rows counted %v, want %d", tt.wantOutcome, got, rows)
			}
			var found bool
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var rec struct {
					Entity string `json:"entity"`
					Rows   int    `json:"rows"`
				}
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Entity == "sessions" && rec.Rows == rows {
					found = true
				}
			}
			if !found {
				t.Errorf("no log line with the row count: %s", logs.String())
			}
		})
	}
}

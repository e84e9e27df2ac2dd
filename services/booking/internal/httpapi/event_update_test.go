package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
	"github.com/acube/platform/libs/web/webtest"
	"github.com/acube/platform/services/booking/internal/booking"
)

// patch sends PATCH /api/events/{id} as the admin.
func (h *harness) patch(id, body string) response {
	h.t.Helper()
	return h.asAdmin("PATCH", "/api/events/"+id, body)
}

// registerAll registers each address for event id, in order, and fails
// unless each answers 201.
func (h *harness) registerAll(id string, emails ...string) {
	h.t.Helper()
	for _, e := range emails {
		if res := h.do("POST", "/api/events/"+id+"/register", regBody(e)); res.status != http.StatusCreated {
			h.t.Fatalf("register %s: %d %s", e, res.status, res.body)
		}
	}
}

// registrations lists event id's registrations by email.
func (h *harness) registrations(id string) map[string]registrationResponse {
	h.t.Helper()
	var list listResponse[registrationResponse]
	res := h.asAdmin("GET", "/api/events/"+id+"/registrations?limit=200", "")
	if res.status != http.StatusOK {
		h.t.Fatalf("list registrations: %d %s", res.status, res.body)
	}
	res.json(h.t, &list)
	out := map[string]registrationResponse{}
	for _, r := range list.Items {
		out[r.Email] = r
	}
	return out
}

// promotedEmails lists who booking.event.promoted went to, in order.
func promotedEmails(t *testing.T, h *harness) []string {
	t.Helper()
	var out []string
	for _, ev := range h.outbox("booking.event.promoted") {
		var d events.Registration
		if err := ev.UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		if d.Status != "confirmed" || d.ManageExpires.IsZero() || d.ManageURL != "" {
			t.Fatalf("promotion %+v", d)
		}
		out = append(out, d.Email)
	}
	return out
}

// auditRecord decodes the only event of subject, failing unless there is
// exactly one.
func auditRecord(t *testing.T, h *harness, subject string) (events.AuditRecord, map[string]json.RawMessage) {
	t.Helper()
	evs := h.outbox(subject)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1", len(evs), subject)
	}
	var rec events.AuditRecord
	if err := evs[0].UnmarshalData(&rec); err != nil {
		t.Fatal(err)
	}
	var changes map[string]json.RawMessage
	if err := json.Unmarshal(rec.Changes, &changes); err != nil {
		t.Fatalf("changes %s: %v", rec.Changes, err)
	}
	return rec, changes
}

func TestIntegrationUpdateEventValidation(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Validated", 5)
	starts, err := time.Parse(time.RFC3339, e.StartsAt)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) string { return `"` + starts.Add(d).Format(time.RFC3339) + `"` }
	huge := strings.Repeat("a", 1<<20)
	tests := []struct {
		name       string
		id         string // e.ID when empty
		body       string
		ctype      string
		wantStatus int
		wantField  string
	}{
		{name: "malformed json", body: `{"title":`, wantStatus: 400},
		{name: "empty body", body: ``, wantStatus: 400},
		{name: "not an object", body: `[{"title":"x"}]`, wantStatus: 400},
		{name: "two objects", body: `{}{}`, wantStatus: 400},
		{name: "unknown field", body: `{"title":"x","confirmed":0}`, wantStatus: 400, wantField: "confirmed"},
		{name: "id is not editable", body: `{"id":"` + uuid.NewString() + `"}`, wantStatus: 400, wantField: "id"},
		{name: "seats_left is not editable", body: `{"seats_left":100}`, wantStatus: 400, wantField: "seats_left"},
		{name: "capacity as string", body: `{"capacity":"10"}`, wantStatus: 400, wantField: "capacity"},
		{name: "capacity fraction", body: `{"capacity":1.5}`, wantStatus: 400, wantField: "capacity"},
		{name: "capacity overflows", body: `{"capacity":1e400}`, wantStatus: 400},
		{name: "capacity beyond int64", body: `{"capacity":99999999999999999999}`, wantStatus: 400, wantField: "capacity"},
		{name: "title as number", body: `{"title":5}`, wantStatus: 400, wantField: "title"},
		{name: "title as array", body: `{"title":["a"]}`, wantStatus: 400, wantField: "title"},
		{name: "starts_at as object", body: `{"starts_at":{"t":1}}`, wantStatus: 400, wantField: "starts_at"},
		{name: "wrong media type", body: `title=x`, ctype: "application/x-www-form-urlencoded", wantStatus: 415},
		{name: "1 MiB string", body: `{"description":"` + huge + `"}`, wantStatus: 413},
		{name: "null title", body: `{"title":null}`, wantStatus: 422, wantField: "title"},
		{name: "null capacity", body: `{"capacity":null}`, wantStatus: 422, wantField: "capacity"},
		{name: "empty title", body: `{"title":"  "}`, wantStatus: 422, wantField: "title"},
		{name: "long title", body: `{"title":"` + strings.Repeat("é", 201) + `"}`, wantStatus: 422, wantField: "title"},
		{name: "long description", body: `{"description":"` + strings.Repeat("d", 5001) + `"}`, wantStatus: 422, wantField: "description"},
		{name: "long location", body: `{"location":"` + strings.Repeat("l", 301) + `"}`, wantStatus: 422, wantField: "location"},
		{name: "control character in title", body: `{"title":"a\u001bb"}`, wantStatus: 422, wantField: "title"},
		{name: "nul in location", body: `{"location":"a\u0000b"}`, wantStatus: 422, wantField: "location"},
		{name: "zero capacity", body: `{"capacity":0}`, wantStatus: 422, wantField: "capacity"},
		{name: "negative capacity", body: `{"capacity":-3}`, wantStatus: 422, wantField: "capacity"},
		{name: "capacity above the maximum", body: `{"capacity":100001}`, wantStatus: 422, wantField: "capacity"},
		{name: "impossible date", body: `{"starts_at":"` + starts.Format("2006") + `-02-30T10:00:00Z"}`, wantStatus: 422, wantField: "starts_at"},
		{name: "not RFC 3339", body: `{"ends_at":"tomorrow at six"}`, wantStatus: 422, wantField: "ends_at"},
		{name: "date without time", body: `{"starts_at":"` + starts.Format(time.DateOnly) + `"}`, wantStatus: 422, wantField: "starts_at"},
		{name: "year zero", body: `{"starts_at":"0000-01-01T00:00:00Z"}`, wantStatus: 422, wantField: "starts_at"},
		{name: "start in the past", body: `{"starts_at":"2025-02-01T10:00:00Z"}`, wantStatus: 422, wantField: "starts_at"},
		{name: "start beyond three years", body: `{"starts_at":"` + time.Now().AddDate(4, 0, 0).Format(time.RFC3339) + `"}`, wantStatus: 422, wantField: "starts_at"},
		{name: "end before the kept start", body: `{"ends_at":` + at(-time.Hour) + `}`, wantStatus: 422, wantField: "ends_at"},
		{name: "end equal to start", body: `{"ends_at":` + at(0) + `}`, wantStatus: 422, wantField: "ends_at"},
		{name: "start after the kept end", body: `{"starts_at":` + at(3*time.Hour) + `}`, wantStatus: 422, wantField: "ends_at"},
		{name: "longer than 31 days", body: `{"ends_at":` + at(32*24*time.Hour) + `}`, wantStatus: 422, wantField: "ends_at"},
		{name: "several fields at once", body: `{"title":"","capacity":0,"ends_at":"x"}`, wantStatus: 422, wantField: "capacity"},
		{name: "unknown event", id: "0190a000-0000-7000-8000-000000000001", body: `{"title":"x"}`, wantStatus: 404},
		{name: "not a uuid", id: "not-a-uuid", body: `{"title":"x"}`, wantStatus: 404},
		{name: "sql metacharacters are stored as text", body: `{"location":"Hall'); DROP TABLE events;--"}`, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.id
			if id == "" {
				id = e.ID
			}
			var res response
			if tt.ctype != "" {
				res = h.do("PATCH", "/api/events/"+id, tt.body, "Authorization", "Bearer "+h.admin, "Content-Type", tt.ctype)
			} else {
				res = h.patch(id, tt.body)
			}
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %.300s", res.status, tt.wantStatus, res.body)
			}
			if tt.wantField != "" {
				var got struct{ Fields map[string]string }
				res.json(t, &got)
				if got.Fields[tt.wantField] == "" {
					t.Fatalf("no error on %s: %s", tt.wantField, res.body)
				}
			}
		})
	}
	// Only the one accepted change was written: 422s and 400s write nothing.
	if n := len(h.outbox("booking.event.updated")); n != 1 {
		t.Fatalf("%d booking.event.updated events, want 1", n)
	}
	var got eventResponse
	h.do("GET", "/api/events/"+e.ID, "").json(t, &got)
	if got.Title != "Validated" || got.Capacity != 5 || got.StartsAt != e.StartsAt || got.EndsAt != e.EndsAt {
		t.Fatalf("refused changes leaked: %+v", got)
	}
}

func TestIntegrationUpdateEvent(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Before", 5)

	t.Run("partial update keeps the other fields, emits the change and audits it", func(t *testing.T) {
		starts := time.Now().UTC().Add(96 * time.Hour).Truncate(time.Second)
		body := fmt.Sprintf(`{"title":"After","location":"Room 2","starts_at":%q,"ends_at":%q}`,
			starts.Format(time.RFC3339), starts.Add(90*time.Minute).Format(time.RFC3339))
		res := h.patch(e.ID, body)
		if res.status != http.StatusOK {
			t.Fatalf("patch: %d %s", res.status, res.body)
		}
		var got eventResponse
		res.json(t, &got)
		if got.Title != "After" || got.Location != "Room 2" || got.Description != "d" || got.Capacity != 5 ||
			got.StartsAt != starts.Format(time.RFC3339) || got.SeatsLeft != 5 {
			t.Fatalf("answer %+v", got)
		}
		var shown eventResponse
		h.do("GET", "/api/events/"+e.ID, "").json(t, &shown)
		if shown != got {
			t.Fatalf("GET shows %+v, PATCH answered %+v", shown, got)
		}
		evs := h.outbox("booking.event.updated")
		if len(evs) != 1 {
			t.Fatalf("%d updated events", len(evs))
		}
		var d struct {
			booking.EventUpdated
			Changes map[string]struct{ From, To any } `json:"changes"`
		}
		if err := evs[0].UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		if d.Title != "After" || d.Location != "Room 2" || d.UpdatedBy != "ada@example.org" || d.Promoted != 0 ||
			!d.StartsAt.Equal(starts) {
			t.Fatalf("event data %+v", d)
		}
		if len(d.Changes) != 4 || d.Changes["title"].From != "Before" || d.Changes["title"].To != "After" ||
			d.Changes["location"].From != "Hall" {
			t.Fatalf("changes %+v, want title, location, starts_at, ends_at", d.Changes)
		}
		rec, changes := auditRecord(t, h, "audit.events.updated")
		if rec.ActorID != "0190-admin-ada" || rec.ActorEmail != "ada@example.org" || rec.Action != "updated" ||
			rec.Entity != "events" || rec.EntityID != e.ID || rec.ClientIP == "" {
			t.Fatalf("audit %+v", rec)
		}
		if string(changes["title"]) != `{"from":"Before","to":"After"}` || changes["capacity"] != nil {
			t.Fatalf("audit changes %s", rec.Changes)
		}
	})

	t.Run("a change to the same values emits nothing", func(t *testing.T) {
		for _, body := range []string{`{}`, `{"title":"After"}`, `{"title":"  After  ","capacity":5}`} {
			if res := h.patch(e.ID, body); res.status != http.StatusOK {
				t.Fatalf("%s: %d %s", body, res.status, res.body)
			}
		}
		if n, a := len(h.outbox("booking.event.updated")), len(h.outbox("audit.events.updated")); n != 1 || a != 1 {
			t.Fatalf("%d updated and %d audit events after no-op changes, want 1 and 1", n, a)
		}
	})

	t.Run("the same times in another zone are no change", func(t *testing.T) {
		var cur eventResponse
		h.do("GET", "/api/events/"+e.ID, "").json(t, &cur)
		starts, _ := time.Parse(time.RFC3339, cur.StartsAt)
		body := `{"starts_at":"` + starts.In(time.FixedZone("", 2*3600)).Format(time.RFC3339) + `"}`
		if res := h.patch(e.ID, body); res.status != http.StatusOK {
			t.Fatalf("%d %s", res.status, res.body)
		}
		if n := len(h.outbox("booking.event.updated")); n != 1 {
			t.Fatalf("%d updated events", n)
		}
	})
}

func TestIntegrationUpdateEventCapacity(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Seats", 2)
	h.registerAll(e.ID, "p1@example.org", "p2@example.org", "w1@example.org", "w2@example.org", "w3@example.org")

	steps := []struct {
		name         string
		capacity     int
		wantStatus   int
		wantPromoted []string // all promotions so far, in order
		wantLeft     int
		wantWaiting  int
	}{
		{name: "below the confirmed seats", capacity: 1, wantStatus: 409, wantLeft: 0, wantWaiting: 3},
		{name: "to the confirmed seats", capacity: 2, wantStatus: 200, wantLeft: 0, wantWaiting: 3},
		{name: "raised by two promotes the first two waiting", capacity: 4, wantStatus: 200,
			wantPromoted: []string{"w1@example.org", "w2@example.org"}, wantLeft: 0, wantWaiting: 1},
		{name: "raised beyond the waitlist promotes the rest", capacity: 10, wantStatus: 200,
			wantPromoted: []string{"w1@example.org", "w2@example.org", "w3@example.org"}, wantLeft: 5, wantWaiting: 0},
		{name: "lowered to the seats taken", capacity: 5, wantStatus: 200,
			wantPromoted: []string{"w1@example.org", "w2@example.org", "w3@example.org"}, wantLeft: 0, wantWaiting: 0},
		{name: "below them again", capacity: 4, wantStatus: 409,
			wantPromoted: []string{"w1@example.org", "w2@example.org", "w3@example.org"}, wantLeft: 0, wantWaiting: 0},
	}
	for _, st := range steps {
		res := h.patch(e.ID, fmt.Sprintf(`{"capacity":%d}`, st.capacity))
		if res.status != st.wantStatus {
			t.Fatalf("%s: %d %s", st.name, res.status, res.body)
		}
		if st.wantStatus == http.StatusConflict {
			var got struct {
				Detail string
				Fields map[string]string
			}
			res.json(t, &got)
			if !strings.Contains(got.Detail, "already confirmed") || got.Fields["capacity"] == "" {
				t.Fatalf("%s: conflict %s", st.name, res.body)
			}
		}
		if got := promotedEmails(t, h); fmt.Sprint(got) != fmt.Sprint(st.wantPromoted) {
			t.Fatalf("%s: promoted %v, want %v", st.name, got, st.wantPromoted)
		}
		var ev eventResponse
		h.do("GET", "/api/events/"+e.ID, "").json(t, &ev)
		if ev.SeatsLeft != st.wantLeft || ev.Waitlisted != st.wantWaiting {
			t.Fatalf("%s: seats left %d, waiting %d; want %d and %d", st.name, ev.SeatsLeft, ev.Waitlisted, st.wantLeft, st.wantWaiting)
		}
	}
	regs := h.registrations(e.ID)
	for _, email := range []string{"p1@example.org", "w1@example.org", "w3@example.org"} {
		if r := regs[email]; r.Status != "confirmed" || r.WaitlistPosition != 0 {
			t.Fatalf("%s: %+v", email, r)
		}
	}
	// The raise to 4 was one change with its promotions: one event, one
	// audit record saying how many got a seat.
	var raised []booking.EventUpdated
	for _, ev := range h.outbox("booking.event.updated") {
		var d booking.EventUpdated
		if err := ev.UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		raised = append(raised, d)
	}
	if len(raised) != 3 || raised[0].Promoted != 2 || raised[1].Promoted != 1 || raised[2].Promoted != 0 {
		t.Fatalf("updated events %+v", raised)
	}
	if n := len(h.outbox("audit.events.updated")); n != 3 {
		t.Fatalf("%d audit records, want 3", n)
	}
	var consistent bool
	if err := h.pool.QueryRow(context.Background(), `SELECT confirmed = (SELECT count(*) FROM registrations
		WHERE event_id = $1 AND status = 'confirmed') FROM events WHERE id = $1`, e.ID).Scan(&consistent); err != nil || !consistent {
		t.Fatalf("seat count disagrees with the registrations (%v)", err)
	}
}

func TestIntegrationUpdateEventOverTime(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Timed", 1)
	h.registerAll(e.ID, "in@example.org", "wait@example.org")
	starts, _ := time.Parse(time.RFC3339, e.StartsAt)
	ends, _ := time.Parse(time.RFC3339, e.EndsAt)

	// Running: details can still be fixed, but nobody joins from the
	// waitlist, as nobody may register any more.
	h.clock.Set(starts.Add(time.Minute))
	if res := h.patch(e.ID, `{"location":"Room 9","capacity":3}`); res.status != http.StatusOK {
		t.Fatalf("running event: %d %s", res.status, res.body)
	}
	if got := promotedEmails(t, h); len(got) != 0 {
		t.Fatalf("promoted %v during the event", got)
	}
	if res := h.patch(e.ID, `{"ends_at":"`+starts.Add(-time.Minute).Format(time.RFC3339)+`"}`); res.status != http.StatusUnprocessableEntity {
		t.Fatalf("end before the start: %d %s", res.status, res.body)
	}

	// Ended: nothing changes any more.
	h.clock.Set(ends.Add(time.Second))
	for _, body := range []string{`{"title":"Later"}`, `{"capacity":9}`, `{}`,
		`{"ends_at":"` + ends.Add(24*time.Hour).Format(time.RFC3339) + `"}`} {
		res := h.patch(e.ID, body)
		if res.status != http.StatusConflict || !strings.Contains(string(res.body), "ended") {
			t.Fatalf("%s on an ended event: %d %s", body, res.status, res.body)
		}
	}
	// The exact end is already past.
	h.clock.Set(ends)
	if res := h.patch(e.ID, `{"title":"Later"}`); res.status != http.StatusConflict {
		t.Fatalf("at its end: %d %s", res.status, res.body)
	}
}

// rescheduledData decodes the booking.event.rescheduled events written so
// far, in order.
func rescheduledData(t *testing.T, h *harness) []events.EventRescheduled {
	t.Helper()
	var out []events.EventRescheduled
	for _, ev := range h.outbox(events.TypeEventRescheduled) {
		var d events.EventRescheduled
		if err := ev.UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestIntegrationUpdateEventTellsRegistrants: a new time or place writes
// one booking.event.rescheduled per live registration in the change's
// transaction; cancelled registrations and other changes get none.
func TestIntegrationUpdateEventTellsRegistrants(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Moving", 2)
	h.registerAll(e.ID, "p1@example.org", "p2@example.org", "w1@example.org", "gone@example.org", "w2@example.org")
	if res := h.asAdmin("POST", "/api/registrations/"+h.registrationID(e.ID, "gone@example.org")+"/cancel", ""); res.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	starts, _ := time.Parse(time.RFC3339, e.StartsAt)
	ends, _ := time.Parse(time.RFC3339, e.EndsAt)
	// summary is "email status position" of each event, in order.
	summary := func(ds []events.EventRescheduled) string {
		var out []string
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%s %s %d", d.Email, d.Status, d.WaitlistPosition))
		}
		return strings.Join(out, ", ")
	}

	t.Run("title, description or capacity alone tell nobody", func(t *testing.T) {
		for _, body := range []string{`{"title":"Moving on"}`, `{"description":"more"}`, `{"capacity":2,"title":"Moving"}`} {
			if res := h.patch(e.ID, body); res.status != http.StatusOK {
				t.Fatalf("%s: %d %s", body, res.status, res.body)
			}
		}
		if n := len(h.outbox(events.TypeEventRescheduled)); n != 0 {
			t.Fatalf("%d rescheduled events", n)
		}
	})

	newStart := starts.Add(24 * time.Hour)
	t.Run("a new time: one event per live registration", func(t *testing.T) {
		body := fmt.Sprintf(`{"starts_at":%q,"ends_at":%q}`, newStart.Format(time.RFC3339), newStart.Add(time.Hour).Format(time.RFC3339))
		if res := h.patch(e.ID, body); res.status != http.StatusOK {
			t.Fatalf("patch: %d %s", res.status, res.body)
		}
		got := rescheduledData(t, h)
		want := "p1@example.org confirmed 0, p2@example.org confirmed 0, w1@example.org waitlisted 1, w2@example.org waitlisted 2"
		if s := summary(got); s != want {
			t.Fatalf("rescheduled %s, want %s", s, want)
		}
		for _, d := range got {
			if d.EventID.String() != e.ID || d.EventTitle != "Moving" || d.Name != "Reg" ||
				!d.PreviousStartsAt.Equal(starts) || !d.PreviousEndsAt.Equal(ends) || d.PreviousLocation != "Hall" ||
				!d.StartsAt.Equal(newStart) || !d.EndsAt.Equal(newStart.Add(time.Hour)) || d.Location != "Hall" ||
				d.RescheduledAt.IsZero() {
				t.Fatalf("rescheduled %+v", d)
			}
			// The link opens the registration: signed for the new end.
			u := h.manageLink(managelink.KindRegistration, d.RegistrationID, d.ManageExpires)
			if d.ManageURL != "" || !d.ManageExpires.Equal(d.EndsAt.Add(7*24*time.Hour)) {
				t.Fatalf("manage link in event %q, expiry %v", d.ManageURL, d.ManageExpires)
			}
			if res := h.do("GET", u.Path+"?"+u.RawQuery, ""); res.status != http.StatusOK {
				t.Fatalf("manage link: %d %s", res.status, res.body)
			}
		}
		var updated booking.EventUpdated
		evs := h.outbox(booking.TypeEventUpdated)
		if err := evs[len(evs)-1].UnmarshalData(&updated); err != nil || updated.Notified != 4 {
			t.Fatalf("updated %+v (%v), want 4 notified", updated, err)
		}
	})

	t.Run("a new place with a seat more: the seated one is told as confirmed", func(t *testing.T) {
		if res := h.patch(e.ID, `{"location":"Room 9","capacity":3}`); res.status != http.StatusOK {
			t.Fatalf("patch: %d %s", res.status, res.body)
		}
		got := rescheduledData(t, h)[4:]
		want := "p1@example.org confirmed 0, p2@example.org confirmed 0, w1@example.org confirmed 0, w2@example.org waitlisted 1"
		if s := summary(got); s != want {
			t.Fatalf("rescheduled %s, want %s", s, want)
		}
		for _, d := range got {
			if d.PreviousLocation != "Hall" || d.Location != "Room 9" || !d.StartsAt.Equal(newStart) || !d.PreviousStartsAt.Equal(newStart) {
				t.Fatalf("rescheduled %+v", d)
			}
		}
		if got := promotedEmails(t, h); len(got) != 1 || got[0] != "w1@example.org" {
			t.Fatalf("promoted %v", got)
		}
		// Same transaction, in order: updated, audit, promoted, then the
		// rescheduled events.
		var subjects []string
		rows, err := h.pool.Query(context.Background(), `SELECT subject FROM outbox ORDER BY seq DESC LIMIT 7`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			subjects = append([]string{s}, subjects...)
		}
		want = "booking.event.updated audit.events.updated booking.event.promoted " + strings.Repeat("booking.event.rescheduled ", 4)
		if s := strings.Join(subjects, " ") + " "; s != want {
			t.Fatalf("outbox tail %s, want %s", s, want)
		}
	})
}

// TestIntegrationCapacityChangesRaceRegistrations: registrations racing
// capacity changes never overbook, and whenever someone waits no seat is
// free.
func TestIntegrationCapacityChangesRaceRegistrations(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Race", 5)
	const (
		people   = 150
		patchers = 4
		changes  = 15 // by each patcher, one after the other
	)
	// Capacities wander up and down around the seats being taken, so
	// some changes lower, some raise and some come too late (409).
	capacities := make([]int, patchers*changes)
	for i := range capacities {
		capacities[i] = 3 + (i*17)%60
	}
	var wg sync.WaitGroup
	codes := make([]int, people)
	patchCodes := make([]int, len(capacities))
	for i := range people {
		wg.Go(func() {
			codes[i] = h.do("POST", "/api/events/"+e.ID+"/register", regBody(fmt.Sprintf("r%03d@example.org", i))).status
		})
	}
	for p := range patchers {
		wg.Go(func() {
			for i := p * changes; i < (p+1)*changes; i++ {
				patchCodes[i] = h.patch(e.ID, fmt.Sprintf(`{"capacity":%d}`, capacities[i])).status
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Fatalf("registration %d: %d", i, c)
		}
	}
	accepted := 0
	for i, c := range patchCodes {
		switch c {
		case http.StatusOK:
			accepted++
		case http.StatusConflict: // below the seats confirmed by then
		default:
			t.Fatalf("capacity %d: %d", capacities[i], c)
		}
	}
	var capacity, confirmed, counted, waiting int
	err := h.pool.QueryRow(context.Background(), `SELECT capacity, confirmed,
		(SELECT count(*) FROM registrations WHERE event_id = $1 AND status = 'confirmed'),
		(SELECT count(*) FROM registrations WHERE event_id = $1 AND status = 'waitlisted')
		FROM events WHERE id = $1`, e.ID).Scan(&capacity, &confirmed, &counted, &waiting)
	if err != nil {
		t.Fatal(err)
	}
	if confirmed != counted || confirmed > capacity || confirmed+waiting != people {
		t.Fatalf("capacity %d, confirmed %d (counted %d), waiting %d", capacity, confirmed, counted, waiting)
	}
	if waiting > 0 && confirmed != capacity {
		t.Fatalf("%d waiting while %d of %d seats are taken", waiting, confirmed, capacity)
	}
	registered, promoted := len(h.outbox("booking.event.registered")), len(h.outbox("booking.event.promoted"))
	if registered+promoted != confirmed {
		t.Fatalf("%d registered + %d promoted events for %d confirmed seats", registered, promoted, confirmed)
	}
	if n := len(h.outbox("booking.event.updated")); n > accepted {
		t.Fatalf("%d updated events for %d accepted changes", n, accepted)
	}
	// The waitlist is still in order: positions 1..waiting, by registration.
	regs := h.registrations(e.ID)
	seen := map[int]bool{}
	for _, r := range regs {
		if r.Status == "waitlisted" {
			if r.WaitlistPosition < 1 || r.WaitlistPosition > waiting || seen[r.WaitlistPosition] {
				t.Fatalf("waitlist position %d of %d", r.WaitlistPosition, waiting)
			}
			seen[r.WaitlistPosition] = true
		}
	}
}

// UpdateEvent runs fn on a full event of 3 seats three weeks after
// fixedNow, with 2 people waiting.
func (acceptingStore) UpdateEvent(ctx context.Context, _ uuid.UUID, fn func(*booking.Event, booking.Waitlist, booking.Registrants) ([]booking.Message, error)) (booking.Event, error) {
	starts := fixedNow().AddDate(0, 0, 21)
	e := booking.Event{ID: uuid.New(), Title: "Fuzz", StartsAt: starts, EndsAt: starts.Add(time.Hour), Capacity: 3, Confirmed: 3, Waitlisted: 2}
	_, err := fn(&e, fuzzWaitlist{}, fuzzWaitlist{})
	return e, err
}

// fuzzWaitlist is the waitlist and the registrants of the fuzzed event.
type fuzzWaitlist struct{}

func (fuzzWaitlist) Live(context.Context) ([]booking.Registration, error) {
	return []booking.Registration{{ID: uuid.New(), Email: "c@example.org", Status: booking.RegConfirmed}}, nil
}

func (fuzzWaitlist) First(_ context.Context, n int) ([]*booking.Registration, error) {
	out := make([]*booking.Registration, 0, 2)
	for i := range min(n, 2) {
		out = append(out, &booking.Registration{ID: uuid.New(), Email: "w@example.org", Status: booking.RegWaitlisted, WaitlistPosition: i + 1})
	}
	return out, nil
}

// FuzzEventPatch feeds arbitrary bodies through PATCH /api/events/{id}'s
// decoding and the update's rules: every outcome is an event that keeps
// its invariants, or a client error.
func FuzzEventPatch(f *testing.F) {
	for _, s := range []string{
		`{"title":"New"}`, `{"capacity":10}`, `{"capacity":2}`, `{"capacity":null}`, `{"starts_at":"2030-06-22T10:00:00Z"}`,
		`{"ends_at":"2030-06-21T10:00:00Z"}`, `{"title":5}`, `{"capacity":1e400}`, `{}`, `null`, `{"x":1}`,
	} {
		f.Add(s)
	}
	svc := fuzzService(f)
	f.Fuzz(func(t *testing.T, body string) {
		var req eventPatch
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		c, err := req.changes()
		if err == nil {
			var e booking.Event
			e, err = svc.UpdateEvent(context.Background(), booking.Actor{Email: "f@example.org"}, uuid.Nil, c)
			if err == nil {
				if e.Capacity < 1 || e.Capacity > booking.MaxCapacity || e.Confirmed > e.Capacity ||
					(e.Waitlisted > 0 && e.Confirmed < e.Capacity) || !e.EndsAt.After(e.StartsAt) {
					t.Fatalf("accepted event %+v from %q", e, body)
				}
				checkStored(t, e.Title, e.Description, e.Location)
				return
			}
		}
		if errors.Is(err, booking.ErrCapacityBelowConfirmed) {
			return
		}
		checkValidation(t, "event patch", err)
	})
}

package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
)

func TestIntegrationSessions(t *testing.T) {
	h := newHarness(t)

	t.Run("booking answers 201 with the booking and writes its event", func(t *testing.T) {
		res := h.do("POST", "/api/sessions/book", bookBody("first@example.org", futureDate(30)))
		if res.status != http.StatusCreated {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
		var s sessionResponse
		res.json(t, &s)
		if s.ID == "" || s.Status != "pending" || s.Email != "first@example.org" {
			t.Fatalf("answer %s", res.body)
		}
		var booked events.SessionBooked
		evs := h.outbox("booking.session.booked")
		if len(evs) != 1 {
			t.Fatalf("%d booked events", len(evs))
		}
		if err := evs[0].UnmarshalData(&booked); err != nil {
			t.Fatal(err)
		}
		if booked.SessionID.String() != s.ID || booked.Email != s.Email || booked.ManageURL != "" || booked.ManageExpires.IsZero() {
			t.Fatalf("event data %+v", booked)
		}
	})

	t.Run("idempotency key", func(t *testing.T) {
		body := bookBody("idem@example.org", futureDate(10))
		first := h.do("POST", "/api/sessions/book", body, "Idempotency-Key", "form-123")
		again := h.do("POST", "/api/sessions/book", body, "Idempotency-Key", "form-123")
		other := h.do("POST", "/api/sessions/book", bookBody("idem@example.org", futureDate(11)), "Idempotency-Key", "form-123")
		var a, b sessionResponse
		first.json(t, &a)
		again.json(t, &b)
		if first.status != 201 || again.status != 201 || a.ID != b.ID {
			t.Fatalf("repeat: %d %s / %d %s", first.status, first.body, again.status, again.body)
		}
		if again.header.Get("Idempotent-Replayed") != "true" {
			t.Error("replay not marked")
		}
		if other.status != http.StatusUnprocessableEntity {
			t.Fatalf("same key, other body: %d %s", other.status, other.body)
		}
		var n int
		if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE email = 'idem@example.org'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d sessions (%v), want 1", n, err)
		}
	})

	t.Run("status machine", func(t *testing.T) {
		tests := []struct {
			name       string
			moves      []string
			wantStatus []int
		}{
			{name: "pending to completed is illegal", moves: []string{"completed"}, wantStatus: []int{409}},
			{name: "full path", moves: []string{"confirmed", "completed"}, wantStatus: []int{200, 200}},
			{name: "completed is final", moves: []string{"confirmed", "completed", "cancelled"}, wantStatus: []int{200, 200, 409}},
			{name: "cancel from pending", moves: []string{"cancelled", "confirmed"}, wantStatus: []int{200, 409}},
			{name: "cancel from confirmed", moves: []string{"confirmed", "cancelled"}, wantStatus: []int{200, 200}},
			{name: "no move in place", moves: []string{"pending"}, wantStatus: []int{409}},
			{name: "unknown status", moves: []string{"archived"}, wantStatus: []int{422}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var s sessionResponse
				h.do("POST", "/api/sessions/book", bookBody("machine@example.org", futureDate(5))).json(t, &s)
				for i, to := range tt.moves {
					res := h.asAdmin("PATCH", "/api/sessions/"+s.ID+"/status", `{"status":"`+to+`","reason":"because"}`)
					if res.status != tt.wantStatus[i] {
						t.Fatalf("move %d to %s: status %d, want %d: %s", i, to, res.status, tt.wantStatus[i], res.body)
					}
				}
			})
		}
		audits := h.outbox("audit.sessions.status_changed")
		if len(audits) == 0 {
			t.Fatal("no audit events")
		}
		var rec events.AuditRecord
		if err := audits[0].UnmarshalData(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.ActorID != "0190-admin-ada" || rec.ActorEmail != "ada@example.org" || rec.Entity != "sessions" ||
			rec.Action != "status_changed" || rec.ClientIP != "127.0.0.1" || !strings.Contains(string(rec.Changes), `"reason":"because"`) {
			t.Fatalf("audit record %+v %s", rec, rec.Changes)
		}
		if len(h.outbox("booking.session.status_changed")) != len(audits) {
			t.Error("status events and audit events differ in number")
		}
	})

	t.Run("forwarded client address is believed only from a trusted proxy", func(t *testing.T) {
		var s sessionResponse
		h.do("POST", "/api/sessions/book", bookBody("fwd@example.org", futureDate(5))).json(t, &s)
		res := h.do("PATCH", "/api/sessions/"+s.ID+"/status", `{"status":"confirmed"}`,
			"Authorization", "Bearer "+h.admin, "X-Forwarded-For", "198.51.100.9, 203.0.113.7")
		if res.status != 200 {
			t.Fatalf("status %d %s", res.status, res.body)
		}
		audits := h.outbox("audit.sessions.status_changed")
		var rec events.AuditRecord
		if err := audits[len(audits)-1].UnmarshalData(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.ClientIP != "203.0.113.7" {
			t.Fatalf("client ip %q, want the right-most untrusted hop", rec.ClientIP)
		}
	})

	t.Run("manage link", func(t *testing.T) {
		h.do("POST", "/api/sessions/book", bookBody("link@example.org", futureDate(20)))
		evs := h.outbox("booking.session.booked")
		var booked events.SessionBooked
		if err := evs[len(evs)-1].UnmarshalData(&booked); err != nil {
			t.Fatal(err)
		}
		u := h.manageLink(managelink.KindSession, booked.SessionID, booked.ManageExpires)
		id, token := booked.SessionID.String(), u.Query().Get("token")
		tests := []struct {
			name       string
			method     string
			path       string
			wantStatus int
		}{
			{name: "view with token", method: "GET", path: u.Path + "?" + u.RawQuery, wantStatus: 200},
			{name: "view with forged token", method: "GET", path: u.Path + "?token=" + url.QueryEscape(token[:len(token)-2]+"AA"), wantStatus: 403},
			{name: "token of another session", method: "GET", path: "/api/sessions/0190a000-0000-7000-8000-000000000001?" + u.RawQuery, wantStatus: 403},
			{name: "no token is an admin request", method: "GET", path: u.Path, wantStatus: 401},
			{name: "cancel without token", method: "POST", path: "/api/sessions/" + id + "/cancel", wantStatus: 401},
			{name: "cancel with token", method: "POST", path: "/api/sessions/" + id + "/cancel?" + u.RawQuery, wantStatus: 200},
			{name: "cancel twice", method: "POST", path: "/api/sessions/" + id + "/cancel?" + u.RawQuery, wantStatus: 409},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if res := h.do(tt.method, tt.path, ""); res.status != tt.wantStatus {
					t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
				}
			})
		}
	})

	t.Run("cancellation inside the notice window and expired links are refused", func(t *testing.T) {
		h.do("POST", "/api/sessions/book", bookBody("late@example.org", futureDate(3)))
		evs := h.outbox("booking.session.booked")
		var booked events.SessionBooked
		if err := evs[len(evs)-1].UnmarshalData(&booked); err != nil {
			t.Fatal(err)
		}
		u := h.manageLink(managelink.KindSession, booked.SessionID, booked.ManageExpires)
		cancel := "/api/sessions/" + booked.SessionID.String() + "/cancel?" + u.RawQuery
		defer h.clock.Set(time.Now().UTC())
		h.clock.Set(time.Now().UTC().AddDate(0, 0, 2).Add(12 * time.Hour)) // less than 24h before the day
		if res := h.do("POST", cancel, `{"reason":"ill"}`); res.status != http.StatusConflict {
			t.Fatalf("inside the window: %d %s", res.status, res.body)
		}
		h.clock.Set(time.Now().UTC().AddDate(0, 0, 30)) // past the link's expiry
		if res := h.do("GET", u.Path+"?"+u.RawQuery, ""); res.status != http.StatusForbidden {
			t.Fatalf("expired link: %d %s", res.status, res.body)
		}
	})
}

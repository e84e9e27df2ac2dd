package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/services/booking/internal/booking"
)

// registrationID finds the id of email's registration for event id.
func (h *harness) registrationID(id, email string) string {
	h.t.Helper()
	r, ok := h.registrations(id)[email]
	if !ok {
		h.t.Fatalf("no registration of %s", email)
	}
	return r.ID
}

// cancelledData decodes the registration_cancelled events, by email.
func cancelledData(t *testing.T, h *harness) map[string]events.Registration {
	t.Helper()
	out := map[string]events.Registration{}
	for _, ev := range h.outbox("booking.event.registration_cancelled") {
		var d events.Registration
		if err := ev.UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		out[d.Email] = d
	}
	return out
}

func TestIntegrationAdminCancelsRegistration(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Full", 1)
	h.registerAll(e.ID, "seat@example.org", "next@example.org", "last@example.org")
	seat := h.registrationID(e.ID, "seat@example.org")
	cancel := "/api/registrations/" + seat + "/cancel"

	t.Run("refused input changes nothing", func(t *testing.T) {
		tests := []struct {
			name       string
			path       string
			body       string
			wantStatus int
		}{
			{name: "unknown field", path: cancel, body: `{"reason":"x","notify":false}`, wantStatus: 400},
			{name: "reason as number", path: cancel, body: `{"reason":42}`, wantStatus: 400},
			{name: "malformed json", path: cancel, body: `{"reason":`, wantStatus: 400},
			{name: "huge body", path: cancel, body: `{"reason":"` + strings.Repeat("r", 1<<20) + `"}`, wantStatus: 413},
			{name: "long reason", path: cancel, body: `{"reason":"` + strings.Repeat("r", 1001) + `"}`, wantStatus: 422},
			{name: "control character in reason", path: cancel, body: `{"reason":"a\u0007b"}`, wantStatus: 422},
			{name: "unknown registration", path: "/api/registrations/0190a000-0000-7000-8000-000000000001/cancel", wantStatus: 404},
			{name: "not a uuid", path: "/api/registrations/nope/cancel", wantStatus: 404},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if res := h.asAdmin("POST", tt.path, tt.body); res.status != tt.wantStatus {
					t.Fatalf("status %d, want %d: %.300s", res.status, tt.wantStatus, res.body)
				}
			})
		}
		if n := len(h.outbox("booking.event.registration_cancelled")); n != 0 {
			t.Fatalf("%d cancellations", n)
		}
	})

	t.Run("without any token it is an admin request", func(t *testing.T) {
		if res := h.do("POST", cancel, `{"reason":"x"}`); res.status != http.StatusUnauthorized {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	})

	t.Run("an admin cancels with a reason; the first waiting gets the seat", func(t *testing.T) {
		res := h.asAdmin("POST", cancel, `{"reason":"Asked us by phone"}`)
		if res.status != http.StatusOK {
			t.Fatalf("cancel: %d %s", res.status, res.body)
		}
		var r registrationResponse
		res.json(t, &r)
		if r.Status != "cancelled" || r.CancelledBy != "ada@example.org" || r.CancelReason != "Asked us by phone" {
			t.Fatalf("answer %+v", r)
		}
		if got := promotedEmails(t, h); len(got) != 1 || got[0] != "next@example.org" {
			t.Fatalf("promoted %v", got)
		}
		d := cancelledData(t, h)["seat@example.org"]
		if d.Status != "cancelled" || d.CancelledBy != "ada@example.org" || d.Reason != "Asked us by phone" || d.ManageURL != "" || !d.ManageExpires.IsZero() ||
			d.PreviousStatus != "confirmed" || d.CancelledAt.IsZero() || d.EventTitle != "Full" || d.Name != "Reg" {
			t.Fatalf("cancellation event %+v", d)
		}
		rec, changes := auditRecord(t, h, "audit.registrations.cancelled")
		if rec.ActorID != "0190-admin-ada" || rec.ActorEmail != "ada@example.org" || rec.Entity != "registrations" ||
			rec.EntityID != seat || rec.ClientIP == "" {
			t.Fatalf("audit %+v", rec)
		}
		if string(changes["status"]) != `{"from":"confirmed","to":"cancelled"}` || string(changes["reason"]) != `"Asked us by phone"` ||
			string(changes["event_id"]) != `"`+e.ID+`"` || string(changes["promoted"]) != `1` {
			t.Fatalf("audit changes %s", rec.Changes)
		}
		regs := h.registrations(e.ID)
		if regs["seat@example.org"].CancelledBy != "ada@example.org" || regs["next@example.org"].Status != "confirmed" ||
			regs["last@example.org"].WaitlistPosition != 1 {
			t.Fatalf("registrations %+v", regs)
		}
		var ev eventResponse
		h.do("GET", "/api/events/"+e.ID, "").json(t, &ev)
		if ev.SeatsLeft != 0 || ev.Waitlisted != 1 {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("twice is a conflict", func(t *testing.T) {
		if res := h.asAdmin("POST", cancel, ""); res.status != http.StatusConflict {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	})

	t.Run("a waitlisted registration, without a body: nobody is promoted", func(t *testing.T) {
		last := h.registrationID(e.ID, "last@example.org")
		res := h.asAdmin("POST", "/api/registrations/"+last+"/cancel", "")
		if res.status != http.StatusOK {
			t.Fatalf("cancel: %d %s", res.status, res.body)
		}
		if got := promotedEmails(t, h); len(got) != 1 {
			t.Fatalf("promoted %v", got)
		}
		if d := cancelledData(t, h)["last@example.org"]; d.PreviousStatus != "waitlisted" || d.Reason != "" || d.WaitlistPosition != 0 {
			t.Fatalf("cancellation event %+v", d)
		}
		if n := len(h.outbox("audit.registrations.cancelled")); n != 2 {
			t.Fatalf("%d audit records", n)
		}
		var ev eventResponse
		h.do("GET", "/api/events/"+e.ID, "").json(t, &ev)
		if ev.SeatsLeft != 0 || ev.Waitlisted != 0 {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("not once the event started", func(t *testing.T) {
		next := h.registrationID(e.ID, "next@example.org")
		starts, _ := time.Parse(time.RFC3339, e.StartsAt)
		h.clock.Set(starts)
		defer h.clock.Set(time.Now().UTC())
		if res := h.asAdmin("POST", "/api/registrations/"+next+"/cancel", ""); res.status != http.StatusConflict {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	})
}

// TestIntegrationRegistrantCancelIsUnchanged: the manage link path answers
// as before and is not audited, whatever Authorization says.
func TestIntegrationRegistrantCancelIsUnchanged(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Mine", 1)
	h.registerAll(e.ID, "me@example.org", "you@example.org")
	link := registrationLink(t, h, "booking.event.registered", "me@example.org")
	tests := []struct {
		name       string
		query      string
		headers    []string
		wantStatus int
	}{
		{name: "bad token", query: "?token=bad", wantStatus: 403},
		{name: "empty token", query: "?token=", wantStatus: 403},
		{name: "bad token with an admin bearer is still the registrant path", query: "?token=bad",
			headers: []string{"Authorization", "Bearer " + h.admin}, wantStatus: 403},
		{name: "good token", query: "?" + link.RawQuery, wantStatus: 200},
		{name: "good token twice", query: "?" + link.RawQuery, wantStatus: 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := h.do("POST", link.Path+"/cancel"+tt.query, "", tt.headers...); res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
		})
	}
	if got := promotedEmails(t, h); len(got) != 1 || got[0] != "you@example.org" {
		t.Fatalf("promoted %v", got)
	}
	if d := cancelledData(t, h)["me@example.org"]; d.CancelledBy != booking.CancelledByRegistrant || d.Reason != "" ||
		d.PreviousStatus != "confirmed" || d.CancelledAt.IsZero() {
		t.Fatalf("cancellation event %+v", d)
	}
	if n := len(h.outbox("audit.")); n != 1 { // the event's creation only
		t.Fatalf("%d audit events, want 1", n)
	}
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/managelink"
)

// The tests of issue 13's findings 5 and 6: what the public forms and the
// manage links tell someone who is not the person the record is about, or
// not staff. Each failed before the fix.

// fields decodes a JSON object's top-level members.
func fields(t *testing.T, res response) map[string]any {
	t.Helper()
	var m map[string]any
	res.json(t, &m)
	return m
}

// sameHeaders reports the headers that differ between a and b other
// than those that differ between any two answers (time, request id,
// length of an echoed address).
func sameHeaders(a, b http.Header) []string {
	var diff []string
	names := slices.Sorted(maps.Keys(a))
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		switch n {
		case "Date", "X-Request-Id", "Content-Length":
			if (a.Get(n) == "") != (b.Get(n) == "") {
				diff = append(diff, n)
			}
		default:
			if strings.Join(a.Values(n), ",") != strings.Join(b.Values(n), ",") {
				diff = append(diff, n)
			}
		}
	}
	return diff
}

// TestIntegrationRegistrationTellsNobodyWhoIsRegistered (finding 5): an
// address already registered for the event is answered exactly as a new
// one — status, headers, the members and values of the body — nothing is
// stored and no seat is taken, and the registrant is told by email
// (booking.event.already_registered) with the name they gave, not the
// one the form was just filled with.
func TestIntegrationRegistrationTellsNobodyWhoIsRegistered(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name     string
		capacity int
		want     string // the status both probes are answered with
	}{
		{name: "seats left", capacity: 5, want: "confirmed"},
		{name: "full, so the waitlist", capacity: 1, want: "waitlisted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := h.createEvent(tt.name, tt.capacity)
			register := "/api/events/" + e.ID + "/register"
			first := h.do("POST", register, `{"email":"known@example.org","name":"Known Person","phone":"+44 20 7946 0000"}`)
			if first.status != http.StatusCreated {
				t.Fatalf("first registration: %d %s", first.status, first.body)
			}
			original := fields(t, first)["id"].(string)
			var before eventResponse
			h.do("GET", "/api/events/"+e.ID, "").json(t, &before)

			// The probe: the registered address (cased otherwise) and a
			// new one, each with the attacker's name.
			known := h.do("POST", register, `{"email":"KNOWN@example.org","name":"Mallory"}`)
			fresh := h.do("POST", register, `{"email":"fresh@example.org","name":"Mallory"}`)

			if known.status != http.StatusCreated || fresh.status != known.status {
				t.Fatalf("known address %d %s, new address %d %s: want the same 201", known.status, known.body, fresh.status, fresh.body)
			}
			if d := sameHeaders(known.header, fresh.header); len(d) > 0 {
				t.Errorf("headers differ: %v\nknown: %v\nnew:   %v", d, known.header, fresh.header)
			}
			k, f := fields(t, known), fields(t, fresh)
			if !slices.Equal(slices.Sorted(maps.Keys(k)), slices.Sorted(maps.Keys(f))) {
				t.Errorf("members differ: known %s, new %s", known.body, fresh.body)
			}
			for _, m := range []string{"status", "waitlist_position", "name", "phone", "event_id"} {
				if k[m] != f[m] {
					t.Errorf("%s: known %v, new %v", m, k[m], f[m])
				}
			}
			if k["status"] != tt.want || k["id"] == original || k["name"] != "Mallory" {
				t.Errorf("known address answered %s; want status %s, an id other than %s and the name submitted", known.body, tt.want, original)
			}
			for _, secret := range []string{"Known Person", "7946", "already"} {
				if bytes.Contains(known.body, []byte(secret)) {
					t.Errorf("the answer to the known address contains %q: %s", secret, known.body)
				}
			}

			// Nothing stored for the repeat, no seat taken for it.
			regs := h.registrations(e.ID)
			if len(regs) != 2 || regs["known@example.org"].ID != original {
				t.Errorf("registrations after the probe %+v, want the first and the new address's", regs)
			}
			var after eventResponse
			h.do("GET", "/api/events/"+e.ID, "").json(t, &after)
			seated := 0
			if tt.want == "confirmed" {
				seated = 1
			}
			if after.SeatsLeft != before.SeatsLeft-seated || after.Waitlisted != before.Waitlisted+1-seated {
				t.Errorf("event before %+v, after %+v: only the new address may count", before, after)
			}

			// The registrant hears of it, with their own registration.
			var notices []map[string]any
			for _, ev := range h.outbox("booking.event.already_registered") {
				var d map[string]any
				if err := json.Unmarshal(ev.Data, &d); err != nil {
					t.Fatal(err)
				}
				if d["registration_id"] == original {
					notices = append(notices, d)
					if ev.Key != "registration:"+original {
						t.Errorf("notice key %q", ev.Key)
					}
					if bytes.Contains(ev.Data, []byte("Mallory")) {
						t.Errorf("the notice carries what the form was filled with: %s", ev.Data)
					}
				}
			}
			if len(notices) != 1 {
				t.Fatalf("%d already_registered notices for %s, want 1", len(notices), original)
			}
			n := notices[0]
			if n["email"] != "known@example.org" || n["name"] != "Known Person" || n["event_id"] != e.ID ||
				n["status"] != "confirmed" || n["manage_url"] != nil || n["manage_expires"] == nil {
				t.Errorf("notice %v", n)
			}
		})
	}
}

// TestIntegrationSameAddressRacingRegistersOnce: the same address
// submitted many times at once is one registration and one seat; every
// submit is answered 201, and each one after the first tells the
// registrant.
func TestIntegrationSameAddressRacingRegistersOnce(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Race", 3)
	const n = 12
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i] = h.do("POST", "/api/events/"+e.ID+"/register", regBody("twin@example.org")).status
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Fatalf("submit %d: status %d", i, c)
		}
	}
	var got eventResponse
	h.do("GET", "/api/events/"+e.ID, "").json(t, &got)
	if regs := h.registrations(e.ID); len(regs) != 1 || got.SeatsLeft != 2 || got.Waitlisted != 0 {
		t.Fatalf("registrations %+v, event %+v: want one registration and one seat taken", regs, got)
	}
	if reg, again := len(h.outbox("booking.event.registered")), len(h.outbox("booking.event.already_registered")); reg != 1 || again != n-1 {
		t.Fatalf("%d registered and %d already_registered events, want 1 and %d", reg, again, n-1)
	}
}

// manageLink is the manage link of the last event of typ written.
func manageLink(t *testing.T, h *harness, typ string) *url.URL {
	t.Helper()
	evs := h.outbox(typ)
	if len(evs) == 0 {
		t.Fatalf("no %s event", typ)
	}
	var d struct {
		SessionID      uuid.UUID `json:"session_id"`
		RegistrationID uuid.UUID `json:"registration_id"`
		ManageExpires  time.Time `json:"manage_expires"`
		ManageURL      string    `json:"manage_url"`
	}
	if err := evs[len(evs)-1].UnmarshalData(&d); err != nil {
		t.Fatal(err)
	}
	if d.ManageURL != "" {
		t.Fatalf("%s carries a manage link %q", typ, d.ManageURL)
	}
	if d.SessionID != uuid.Nil {
		return h.manageLink(managelink.KindSession, d.SessionID, d.ManageExpires)
	}
	return h.manageLink(managelink.KindRegistration, d.RegistrationID, d.ManageExpires)
}

// TestIntegrationManageViewsShowNoStaffData (finding 6): what a manage
// link shows, and what the booker's and registrant's own requests answer,
// holds what they gave and need — never who on the staff changed the
// record, nor the reason staff wrote. Admins still see both.
func TestIntegrationManageViewsShowNoStaffData(t *testing.T) {
	h := newHarness(t)
	const note = "Internal: no-show twice"
	staff := []string{"status_changed_by", "status_reason", "cancelled_by", "cancel_reason", "ada@example.org", note, `"booker"`, `"registrant"`}
	noStaff := func(t *testing.T, what string, res response) {
		t.Helper()
		if res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, res.status, res.body)
		}
		for _, s := range staff {
			if bytes.Contains(res.body, []byte(s)) {
				t.Errorf("%s shows %q: %s", what, s, res.body)
			}
		}
	}

	t.Run("session", func(t *testing.T) {
		h.do("POST", "/api/sessions/book", bookBody("booker@example.org", futureDate(20)))
		u := manageLink(t, h, "booking.session.booked")
		view := u.Path + "?" + u.RawQuery
		if res := h.asAdmin("PATCH", u.Path+"/status", `{"status":"confirmed","reason":"`+note+`"}`); !bytes.Contains(res.body, []byte(`"status_changed_by":"ada@example.org"`)) {
			t.Fatalf("admin's answer %d %s, want the staff fields", res.status, res.body)
		}
		res := h.do("GET", view, "")
		noStaff(t, "the manage view", res)
		if m := fields(t, res); m["status"] != "confirmed" || m["email"] != "booker@example.org" || m["session_type"] != "individual" {
			t.Errorf("manage view %s", res.body)
		}
		if res := h.asAdmin("GET", u.Path, ""); !bytes.Contains(res.body, []byte(note)) {
			t.Errorf("admin view %d %s, want the reason", res.status, res.body)
		}
		noStaff(t, "the booker's cancellation", h.do("POST", u.Path+"/cancel?"+u.RawQuery, `{"reason":"my own words"}`))
		res = h.do("GET", view, "")
		noStaff(t, "the manage view after cancelling", res)
		if m := fields(t, res); m["status"] != "cancelled" {
			t.Errorf("manage view after cancelling %s", res.body)
		}
	})

	t.Run("registration cancelled by an admin", func(t *testing.T) {
		e := h.createEvent("Circle", 2)
		h.registerAll(e.ID, "member@example.org")
		u := manageLink(t, h, "booking.event.registered")
		if res := h.asAdmin("POST", u.Path+"/cancel", `{"reason":"`+note+`"}`); res.status != http.StatusOK {
			t.Fatalf("admin cancels: %d %s", res.status, res.body)
		}
		res := h.do("GET", u.Path+"?"+u.RawQuery, "")
		noStaff(t, "the manage view", res)
		m := fields(t, res)
		if ev, _ := m["event"].(map[string]any); m["status"] != "cancelled" || m["email"] != "member@example.org" || ev["title"] != "Circle" {
			t.Errorf("manage view %s", res.body)
		}
		if r := h.registrations(e.ID)["member@example.org"]; r.CancelledBy != "ada@example.org" || r.CancelReason != note {
			t.Errorf("admin list %+v, want who cancelled and why", r)
		}
	})

	t.Run("registration cancelled by the registrant", func(t *testing.T) {
		e := h.createEvent("Group", 2)
		h.registerAll(e.ID, "self@example.org")
		u := manageLink(t, h, "booking.event.registered")
		noStaff(t, "the registrant's view", h.do("GET", u.Path+"?"+u.RawQuery, ""))
		noStaff(t, "the registrant's cancellation", h.do("POST", u.Path+"/cancel?"+u.RawQuery, ""))
		noStaff(t, "the view after cancelling", h.do("GET", u.Path+"?"+u.RawQuery, ""))
	})
}

// TestIntegrationIdempotencyKeysAreScopedToTheClient (finding 6): an
// Idempotency-Key counts for the client (as seen through the trusted
// proxies) and route that sent it. The same client repeating key and body
// gets its booking back as before; another client sending the same key,
// with the same body or another, books anew, and learns neither the first
// booking nor that the key was ever used. The table keeps no key as sent.
func TestIntegrationIdempotencyKeysAreScopedToTheClient(t *testing.T) {
	h := newHarness(t)
	const key = "form-7f3a9c"
	body := bookBody("victim@example.org", futureDate(12))
	other := bookBody("victim@example.org", futureDate(13))
	from := func(ip string) []string { return []string{"Idempotency-Key", key, "X-Forwarded-For", ip} }
	first := h.do("POST", "/api/sessions/book", body, from("203.0.113.10")...)
	if first.status != http.StatusCreated {
		t.Fatalf("first booking: %d %s", first.status, first.body)
	}
	victim := fields(t, first)["id"].(string)

	tests := []struct {
		name       string
		ip, body   string
		wantStatus int
		wantSame   bool // the first booking, marked as replayed
	}{
		{name: "the same client repeats key and body", ip: "203.0.113.10", body: body, wantStatus: 201, wantSame: true},
		{name: "the same client, another body", ip: "203.0.113.10", body: other, wantStatus: 422},
		{name: "another client, same key and body", ip: "198.51.100.7", body: body, wantStatus: 201},
		{name: "another client, same key, another body", ip: "198.51.100.8", body: other, wantStatus: 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.do("POST", "/api/sessions/book", tt.body, from(tt.ip)...)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if res.status != http.StatusCreated {
				return
			}
			same := fields(t, res)["id"] == victim
			replayed := res.header.Get("Idempotent-Replayed") != ""
			if same != tt.wantSame || replayed != tt.wantSame {
				t.Errorf("got the first booking %v, marked replayed %v; want %v: %s", same, replayed, tt.wantSame, res.body)
			}
		})
	}

	var rows, plain int
	if err := h.pool.QueryRow(context.Background(),
		`SELECT count(*), count(*) FILTER (WHERE position($1 IN k::text) > 0) FROM idempotency_keys k`, key).Scan(&rows, &plain); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || plain != 0 {
		t.Errorf("%d keys stored, %d of them as sent; want 3 (one per client), none as sent", rows, plain)
	}
}

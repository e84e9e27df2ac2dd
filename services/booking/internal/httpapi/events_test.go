package httpapi

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
)

func eventBody(title string, capacity int, start time.Time) string {
	return fmt.Sprintf(`{"title":%q,"description":"d","location":"Hall","starts_at":%q,"ends_at":%q,"capacity":%d}`,
		title, start.Format(time.RFC3339), start.Add(2*time.Hour).Format(time.RFC3339), capacity)
}

func (h *harness) createEvent(title string, capacity int) eventResponse {
	h.t.Helper()
	res := h.asAdmin("POST", "/api/events", eventBody(title, capacity, time.Now().Add(72*time.Hour)))
	if res.status != http.StatusCreated {
		h.t.Fatalf("create event: %d %s", res.status, res.body)
	}
	var e eventResponse
	res.json(h.t, &e)
	return e
}

func regBody(email string) string { return `{"email":"` + email + `","name":"Reg"}` }

func TestIntegrationEventCapacityUnderConcurrency(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Workshop", 20)
	const people = 200
	statuses := make([]string, people)
	codes := make([]int, people)
	var wg sync.WaitGroup
	for i := range people {
		wg.Go(func() {
			res := h.do("POST", "/api/events/"+e.ID+"/register", regBody(fmt.Sprintf("p%03d@example.org", i)))
			codes[i] = res.status
			var r registrationResponse
			if res.status == http.StatusCreated {
				res.json(t, &r)
			}
			statuses[i] = r.Status
		})
	}
	wg.Wait()
	count := map[string]int{}
	for i, s := range statuses {
		if codes[i] != http.StatusCreated {
			t.Fatalf("registration %d: status %d", i, codes[i])
		}
		count[s]++
	}
	if count["confirmed"] != 20 || count["waitlisted"] != 180 {
		t.Fatalf("confirmed %d, waitlisted %d; want 20 and 180", count["confirmed"], count["waitlisted"])
	}
	var got eventResponse
	h.do("GET", "/api/events/"+e.ID, "").json(t, &got)
	if got.SeatsLeft != 0 || got.Waitlisted != 180 {
		t.Fatalf("event after: %+v", got)
	}
	if n, w := len(h.outbox("booking.event.registered")), len(h.outbox("booking.event.waitlisted")); n != 20 || w != 180 {
		t.Fatalf("events: %d registered, %d waitlisted", n, w)
	}
	// Waitlist positions are 1..180, each once.
	seen := map[int]bool{}
	for _, ev := range h.outbox("booking.event.waitlisted") {
		var d events.Registration
		if err := ev.UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		if d.WaitlistPosition < 1 || d.WaitlistPosition > 180 || seen[d.WaitlistPosition] {
			t.Fatalf("waitlist position %d repeated or out of range", d.WaitlistPosition)
		}
		seen[d.WaitlistPosition] = true
	}
}

func TestIntegrationEvents(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Talk", 1)

	t.Run("public get and list show seats left", func(t *testing.T) {
		var got eventResponse
		if res := h.do("GET", "/api/events/"+e.ID, ""); res.status != 200 {
			t.Fatalf("get: %d %s", res.status, res.body)
		} else {
			res.json(t, &got)
		}
		if got.SeatsLeft != 1 || got.Title != "Talk" {
			t.Fatalf("event %+v", got)
		}
		var list listResponse[eventResponse]
		h.do("GET", "/api/events", "").json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != e.ID {
			t.Fatalf("list %+v", list)
		}
		if n := len(h.outbox("audit.events.created")); n != 1 {
			t.Fatalf("%d audit.event.created events", n)
		}
	})

	t.Run("invalid events are refused with field errors", func(t *testing.T) {
		soon := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
		tests := []struct {
			name      string
			body      string
			wantField string
		}{
			{name: "past start", body: eventBody("x", 5, time.Now().Add(-time.Hour)), wantField: "starts_at"},
			{name: "zero capacity", body: eventBody("x", 0, time.Now().Add(time.Hour)), wantField: "capacity"},
			{name: "no title", body: eventBody("", 5, time.Now().Add(time.Hour)), wantField: "title"},
			{name: "end before start", body: `{"title":"x","starts_at":"` + soon.Format(time.RFC3339) + `","ends_at":"` + soon.Add(-time.Hour).Format(time.RFC3339) + `","capacity":3}`, wantField: "ends_at"},
			{name: "impossible date", body: `{"title":"x","starts_at":"` + soon.Format("2006") + `-02-30T10:00:00Z","ends_at":"` + soon.Format(time.RFC3339) + `","capacity":3}`, wantField: "starts_at"},
			{name: "too far ahead", body: eventBody("x", 5, time.Now().AddDate(5, 0, 0)), wantField: "starts_at"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := h.asAdmin("POST", "/api/events", tt.body)
				if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.body), `"`+tt.wantField+`"`) {
					t.Fatalf("status %d %s, want 422 on %s", res.status, res.body, tt.wantField)
				}
			})
		}
	})

	t.Run("one registration per address; cancel promotes the first waitlisted", func(t *testing.T) {
		steps := []struct {
			name       string
			email      string
			wantStatus int
			wantReg    string
		}{
			{name: "first gets the seat", email: "a@example.org", wantStatus: 201, wantReg: "confirmed"},
			{name: "same address again, answered as a new one (privacy_test.go)", email: "A@example.org", wantStatus: 201, wantReg: "waitlisted"},
			{name: "second waits", email: "b@example.org", wantStatus: 201, wantReg: "waitlisted"},
			{name: "third waits", email: "c@example.org", wantStatus: 201, wantReg: "waitlisted"},
		}
		for _, st := range steps {
			res := h.do("POST", "/api/events/"+e.ID+"/register", regBody(st.email))
			var r registrationResponse
			if res.status == 201 {
				res.json(t, &r)
			}
			if res.status != st.wantStatus || r.Status != st.wantReg {
				t.Fatalf("%s: %d %s", st.name, res.status, res.body)
			}
		}
		first := registrationLink(t, h, "booking.event.registered", "a@example.org")
		if res := h.do("GET", first.Path+"?"+first.RawQuery, ""); res.status != 200 {
			t.Fatalf("view registration: %d %s", res.status, res.body)
		}
		if res := h.do("POST", first.Path+"/cancel?token=bad", ""); res.status != 403 {
			t.Fatalf("cancel with a bad token: %d", res.status)
		}
		if res := h.do("POST", first.Path+"/cancel?"+first.RawQuery, ""); res.status != 200 {
			t.Fatalf("cancel: %d %s", res.status, res.body)
		}
		promoted := h.outbox("booking.event.promoted")
		if len(promoted) != 1 {
			t.Fatalf("%d promoted events", len(promoted))
		}
		var d events.Registration
		if err := promoted[0].UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		if d.Email != "b@example.org" || d.Status != "confirmed" || d.ManageExpires.IsZero() || d.ManageURL != "" {
			t.Fatalf("promoted %+v", d)
		}
		if n := len(h.outbox("booking.event.registration_cancelled")); n != 1 {
			t.Fatalf("%d cancellation events", n)
		}
		var got eventResponse
		h.do("GET", "/api/events/"+e.ID, "").json(t, &got)
		if got.SeatsLeft != 0 || got.Waitlisted != 1 {
			t.Fatalf("after promotion %+v", got)
		}
		var regs listResponse[registrationResponse]
		h.asAdmin("GET", "/api/events/"+e.ID+"/registrations?status=waitlisted", "").json(t, &regs)
		if len(regs.Items) != 1 || regs.Items[0].Email != "c@example.org" || regs.Items[0].WaitlistPosition != 1 {
			t.Fatalf("waitlist %+v", regs.Items)
		}
		if res := h.do("POST", "/api/events/"+e.ID+"/register", regBody("a@example.org")); res.status != 201 {
			t.Fatalf("re-register after cancelling: %d %s", res.status, res.body)
		}
	})

	t.Run("unknown event", func(t *testing.T) {
		for _, p := range []string{"/api/events/0190a000-0000-7000-8000-000000000001", "/api/events/not-a-uuid"} {
			if res := h.do("GET", p, ""); res.status != 404 {
				t.Fatalf("%s: %d", p, res.status)
			}
		}
		if res := h.do("POST", "/api/events/0190a000-0000-7000-8000-000000000001/register", regBody("z@example.org")); res.status != 404 {
			t.Fatalf("register for unknown: %d", res.status)
		}
	})
}

// registrationLink finds the manage link sent to email in events of typ.
func registrationLink(t *testing.T, h *harness, typ, email string) *url.URL {
	t.Helper()
	for _, ev := range h.outbox(typ) {
		var d events.Registration
		if err := ev.UnmarshalData(&d); err != nil {
			t.Fatal(err)
		}
		if d.Email == email {
			return h.manageLink(managelink.KindRegistration, d.RegistrationID, d.ManageExpires)
		}
	}
	t.Fatalf("no %s event for %s", typ, email)
	return nil
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestIntegrationEventImage(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Pictured", 3)
	path := "/api/events/" + e.ID + "/image"
	pic := pngBytes(t)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("image", "cover.png")
	fw.Write(pic)
	mw.Close()

	tests := []struct {
		name       string
		body       []byte
		ctype      string
		wantStatus int
	}{
		{name: "html claiming to be png", body: []byte("<html><script>alert(1)</script></html>"), ctype: "image/png", wantStatus: 415},
		{name: "svg", body: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), ctype: "image/svg+xml", wantStatus: 415},
		{name: "too large", body: append(append([]byte{}, pic...), make([]byte, 70<<10)...), ctype: "image/png", wantStatus: 413},
		{name: "empty", body: nil, ctype: "image/png", wantStatus: 422},
		{name: "raw png", body: pic, ctype: "application/octet-stream", wantStatus: 200},
		{name: "multipart png", body: form.Bytes(), ctype: mw.FormDataContentType(), wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("PUT", h.srv.URL+path, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			req.Header.Set("Authorization", "Bearer "+h.admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	res := h.do("GET", path, "")
	if res.status != 200 || res.header.Get("Content-Type") != "image/png" || !bytes.Equal(res.body, pic) ||
		res.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("served image: %d %v", res.status, res.header)
	}
	var got eventResponse
	h.do("GET", "/api/events/"+e.ID, "").json(t, &got)
	if got.ImageURL != path {
		t.Fatalf("image url %q", got.ImageURL)
	}
	if n := len(h.outbox("audit.events.image_updated")); n != 2 {
		t.Fatalf("%d image audit events, want 2", n)
	}
	other := h.createEvent("Bare", 3)
	if res := h.do("GET", "/api/events/"+other.ID+"/image", ""); res.status != 404 {
		t.Fatalf("no image: %d", res.status)
	}
}

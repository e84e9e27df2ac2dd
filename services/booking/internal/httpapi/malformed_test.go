package httpapi

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestIntegrationMalformedRequests: an id that is no id or names nothing,
// a body that is not JSON, a list filter that does not parse and an
// image that is not there are answered with the documented 4xx of each
// operation, never a 5xx (the harness checks every answer against the
// OpenAPI document).
func TestIntegrationMalformedRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// An event without an image.
	r := h.asAdmin("POST", "/api/events", `{"title":"Talk","description":"About things","location":"Hall",
		"starts_at":"`+futureDate(30)+`T18:00:00Z","ends_at":"`+futureDate(30)+`T20:00:00Z","capacity":10}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create event = %d %s", r.status, r.body)
	}
	var ev struct {
		ID string `json:"id"`
	}
	r.json(t, &ev)
	nobody := uuid.NewString()
	status := `{"status":"approved"}`
	tests := []struct {
		name, method, path, body string
		admin                    bool
		want                     int
	}{
		{name: "volunteer body not JSON", method: "POST", path: "/api/volunteers", body: "{", want: http.StatusBadRequest},
		{name: "contact body not JSON", method: "POST", path: "/api/contact", body: "{", want: http.StatusBadRequest},
		{name: "event body not JSON", method: "POST", path: "/api/events", body: "{", admin: true, want: http.StatusBadRequest},
		{name: "volunteer status of no id", method: "PATCH", path: "/api/volunteers/x/status", body: status, admin: true, want: http.StatusNotFound},
		{name: "volunteer status of nobody", method: "PATCH", path: "/api/volunteers/" + nobody + "/status", body: status, admin: true, want: http.StatusNotFound},
		{name: "volunteer status body not JSON", method: "PATCH", path: "/api/volunteers/" + nobody + "/status", body: "{", admin: true, want: http.StatusBadRequest},
		{name: "contact status of no id", method: "PATCH", path: "/api/contact/x/status", body: status, admin: true, want: http.StatusNotFound},
		{name: "contact status of nobody", method: "PATCH", path: "/api/contact/" + nobody + "/status", body: `{"status":"read"}`, admin: true, want: http.StatusNotFound},
		{name: "contact status body not JSON", method: "PATCH", path: "/api/contact/" + nobody + "/status", body: "{", admin: true, want: http.StatusBadRequest},
		{name: "session status of no id", method: "PATCH", path: "/api/sessions/x/status", body: `{"status":"confirmed"}`, admin: true, want: http.StatusNotFound},
		{name: "session status body not JSON", method: "PATCH", path: "/api/sessions/" + nobody + "/status", body: "{", admin: true, want: http.StatusBadRequest},
		{name: "image of no id", method: "GET", path: "/api/events/x/image", want: http.StatusNotFound},
		{name: "image of no event", method: "GET", path: "/api/events/" + nobody + "/image", want: http.StatusNotFound},
		{name: "image of an event without one", method: "GET", path: "/api/events/" + ev.ID + "/image", want: http.StatusNotFound},
		{name: "upload to no id", method: "PUT", path: "/api/events/x/image", admin: true, want: http.StatusNotFound},
		{name: "registrations of no id", method: "GET", path: "/api/events/x/registrations", admin: true, want: http.StatusNotFound},
		{name: "registration of no id", method: "GET", path: "/api/registrations/x?token=1.abc", want: http.StatusNotFound},
		{name: "register for no id", method: "POST", path: "/api/events/x/register", body: `{"email":"a@example.org","name":"A"}`, want: http.StatusNotFound},
		{name: "volunteers from no date", method: "GET", path: "/api/volunteers?from=someday", admin: true, want: http.StatusUnprocessableEntity},
		{name: "contacts to no date", method: "GET", path: "/api/contact?to=2025-02-30", admin: true, want: http.StatusUnprocessableEntity},
		{name: "events with a bad limit", method: "GET", path: "/api/events?limit=0", want: http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.admin {
				r = h.asAdmin(tt.method, tt.path, tt.body)
			} else {
				r = h.do(tt.method, tt.path, tt.body)
			}
			if r.status != tt.want {
				t.Errorf("%s %s %q = %d %s, want %d", tt.method, tt.path, tt.body, r.status, r.body, tt.want)
			}
		})
	}
}

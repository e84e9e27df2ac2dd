package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
)

// TestIntegrationManageLinkRequests: the manage-link operations answer a
// request without any token with 401 (nobody authenticated), one whose
// token does not open the record with 403, and check a registrant's body
// as strictly as an admin's (a body that is not an object once cancelled
// the registration and answered 200).
func TestIntegrationManageLinkRequests(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Circle", 5)
	h.registerAll(e.ID, "holder@example.org")
	var reg events.Registration
	for _, ev := range h.outbox(events.TypeEventRegistered) {
		if err := ev.UnmarshalData(&reg); err != nil {
			t.Fatal(err)
		}
	}
	link := h.manageLink(managelink.KindRegistration, reg.RegistrationID, reg.ManageExpires)
	regPath := "/api/registrations/" + reg.RegistrationID.String()
	withToken := "?" + link.RawQuery

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
	}{
		{name: "view without a token", method: "GET", path: regPath, wantStatus: http.StatusUnauthorized},
		{name: "view with a forged token", method: "GET", path: regPath + "?token=1.forged", wantStatus: http.StatusForbidden},
		{name: "session cancel without a token", method: "POST", path: "/api/sessions/0190a000-0000-7000-8000-000000000001/cancel", wantStatus: http.StatusUnauthorized},
		{name: "cancel with a body that is no object", method: "POST", path: regPath + "/cancel" + withToken, body: `"not an object"`, wantStatus: http.StatusBadRequest},
		{name: "cancel with an unknown field", method: "POST", path: regPath + "/cancel" + withToken, body: `{"reason":"x","notify":false}`, wantStatus: http.StatusBadRequest},
		{name: "cancel with a long reason", method: "POST", path: regPath + "/cancel" + withToken, body: `{"reason":"` + strings.Repeat("r", 1001) + `"}`, wantStatus: http.StatusUnprocessableEntity},
		{name: "view with the emailed token", method: "GET", path: regPath + withToken, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := h.do(tt.method, tt.path, tt.body); res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %.300s", res.status, tt.wantStatus, res.body)
			}
		})
	}
	if n := len(h.outbox(events.TypeRegistrationCancelled)); n != 0 {
		t.Fatalf("refused requests cancelled %d registrations", n)
	}

	res := h.do("POST", regPath+"/cancel"+withToken, `{"reason":"Moving away"}`)
	if res.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	cancelled := cancelledData(t, h)["holder@example.org"]
	if cancelled.RegistrationID != reg.RegistrationID {
		t.Fatalf("no cancellation event for the registration: %+v", cancelled)
	}
}

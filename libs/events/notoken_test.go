package events

import (
	"bytes"
	"strings"
	"testing"
)

// TestBookingSamplesCarryNoLinkOrToken checks that no booking event
// carries a manage link or any token: events are kept 7 days in BOOKING
// and 30 in DEADLETTER and readable through the dead-letter API, so the
// mailer mints manage links from the record's id and manage_expires
// (libs/managelink) instead (issue 13, finding 8).
func TestBookingSamplesCarryNoLinkOrToken(t *testing.T) {
	samples, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	withExpiry := 0
	for _, ev := range samples {
		if !strings.HasPrefix(ev.Type, "booking.") {
			continue
		}
		for _, bad := range []string{"token=", `"manage_url"`, `"token"`, `_token"`} {
			if bytes.Contains(ev.Data, []byte(bad)) {
				t.Errorf("%s carries %s: %s", ev.Type, bad, ev.Data)
			}
		}
		if bytes.Contains(ev.Data, []byte(`"manage_expires"`)) {
			withExpiry++
		}
	}
	// Booked, status changed, registered, waitlisted, promoted,
	// already registered and rescheduled tell of a manage link.
	if withExpiry != 7 {
		t.Errorf("%d booking samples give manage_expires, want 7", withExpiry)
	}
}

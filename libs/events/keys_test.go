package events

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestEventKeys checks that each shared type keys its event by the
// aggregate the order of DESIGN §4 is about, and that New copies it.
func TestEventKeys(t *testing.T) {
	id := uuid.MustParse("01958f2e-1a00-7000-8000-00000000000a")
	tests := []struct {
		name string
		data Keyed
		want string
	}{
		{name: "session booked", data: SessionBooked{SessionID: id}, want: "session:" + id.String()},
		{name: "session status", data: SessionStatusChanged{SessionID: id}, want: "session:" + id.String()},
		{name: "registration", data: Registration{RegistrationID: id, EventID: uuid.New()}, want: "registration:" + id.String()},
		{name: "rescheduled is the registration's", data: EventRescheduled{RegistrationID: id, EventID: uuid.New()}, want: "registration:" + id.String()},
		{name: "volunteer", data: VolunteerApplied{ApplicationID: id}, want: "volunteer:" + id.String()},
		{name: "contact", data: ContactReceived{ContactID: id}, want: "contact:" + id.String()},
		{name: "account", data: AccountCreated{AccountID: id}, want: "account:" + id.String()},
		{name: "sessions revoked", data: SessionsRevoked{AdminID: id, SessionID: "s1"}, want: "account:" + id.String()},
		{name: "job request", data: JobRequest{JobID: id}, want: "job:" + id.String()},
		{name: "job progress", data: JobProgress{JobID: id}, want: "job:" + id.String()},
		{name: "owner completion", data: JobOwnerCompleted{JobID: id}, want: "job:" + id.String()},
		{name: "job completed", data: JobCompleted{JobID: id}, want: "job:" + id.String()},
		{name: "export", data: ExportCompleted{ExportID: id}, want: "export:" + id.String()},
		{name: "audit", data: AuditRecord{Entity: "sessions", EntityID: id.String()}, want: "sessions:" + id.String()},
		{name: "audit without entity", data: AuditRecord{Entity: "admin_account"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := New("test", "test.x", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Key != tt.want {
				t.Errorf("key %q, want %q", ev.Key, tt.want)
			}
		})
	}
}

// TestSamples checks the samples the publishers wrote: each decodes, has
// a key, and comes from a publisher.
func TestSamples(t *testing.T) {
	samples, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	for _, ev := range samples {
		if ev.Key == "" || !strings.Contains(ev.Key, ":") {
			t.Errorf("sample %s has key %q, want <kind>:<id>", ev.Type, ev.Key)
		}
		switch ev.Source {
		case "booking", "admin", "exporter":
		default:
			t.Errorf("sample %s from unknown source %q", ev.Type, ev.Source)
		}
	}
}

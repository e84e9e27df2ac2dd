package booking

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/events/eventstest"
)

// samples returns one message of every type booking publishes, built with
// booking's types, keyed by the name of its Type constant.
func samples() map[string]Message {
	at := time.Date(2030, time.March, 14, 9, 30, 0, 0, time.UTC)
	id := func(n byte) uuid.UUID {
		return uuid.UUID{0x01, 0x95, 0x8f, 0x2e, 0x1a, 0x00, 0x70, 0x00, 0x80, 0, 0, 0, 0, 0, 0, n}
	}
	starts, ends := at.AddDate(0, 1, 0), at.AddDate(0, 1, 0).Add(2*time.Hour)
	reg := events.Registration{Email: "alice@example.com", Name: "Alice Example", RegistrationID: id(31), EventID: id(30),
		EventTitle: "Mindfulness for Beginners", StartsAt: starts, EndsAt: ends, Location: "A-Cube Centre, Room 2",
		Status: "confirmed", ManageExpires: ends.Add(30 * 24 * time.Hour)}
	waitlisted := reg
	waitlisted.Status, waitlisted.WaitlistPosition = "waitlisted", 3
	cancelled := reg
	cancelled.Status, cancelled.CancelledBy, cancelled.PreviousStatus, cancelled.CancelledAt, cancelled.ManageExpires =
		"cancelled", events.CancelledByRegistrant, "confirmed", at, time.Time{}
	session := events.SessionBooked{Email: "alice@example.com", Name: "Alice Example", SessionID: id(10),
		SessionType: "individual", PreferredDate: "2030-04-02", Status: "pending", BookedAt: at,
		ManageExpires: time.Date(2030, time.April, 3, 0, 0, 0, 0, time.UTC).Add(30 * 24 * time.Hour)}
	job := id(70)
	return map[string]Message{
		"events.TypeSessionBooked": {events.TypeSessionBooked, session},
		"events.TypeSessionStatusChanged": {events.TypeSessionStatusChanged, events.SessionStatusChanged{Email: session.Email, Name: session.Name,
			SessionID: session.SessionID, SessionType: session.SessionType, PreferredDate: session.PreferredDate,
			PreviousStatus: "pending", Status: "confirmed", ChangedBy: "admin@acube.local", ChangedAt: at, ManageExpires: session.ManageExpires}},
		"TypeSessionDeleted": {TypeSessionDeleted, Deleted{Entity: subjectEntity(TypeSessionDeleted), ID: id(10), JobID: job}},
		"TypeEventCreated": {TypeEventCreated, EventCreated{EventID: id(30), Title: reg.EventTitle, StartsAt: starts, EndsAt: ends,
			Location: reg.Location, Capacity: 12}},
		"TypeEventUpdated": {TypeEventUpdated, EventUpdated{EventID: id(30), Title: reg.EventTitle, StartsAt: starts.AddDate(0, 0, 7),
			EndsAt: ends.AddDate(0, 0, 7), Location: reg.Location, Capacity: 14,
			Changes:  map[string]change{"starts_at": {From: starts, To: starts.AddDate(0, 0, 7)}, "capacity": {From: 12, To: 14}},
			Promoted: 2, Notified: 12, UpdatedBy: "admin@acube.local", UpdatedAt: at}},
		"TypeEventImageUpdated": {TypeEventImageUpdated, EventImageUpdated{EventID: id(30), ContentType: "image/png", Size: 48213,
			ImageURL: "/api/events/" + id(30).String() + "/image"}},
		"TypeEventDeleted":                 {TypeEventDeleted, Deleted{Entity: subjectEntity(TypeEventDeleted), ID: id(30), JobID: job}},
		"events.TypeEventRegistered":       {events.TypeEventRegistered, reg},
		"events.TypeEventWaitlisted":       {events.TypeEventWaitlisted, waitlisted},
		"events.TypeEventPromoted":         {events.TypeEventPromoted, reg},
		"events.TypeRegistrationCancelled": {events.TypeRegistrationCancelled, cancelled},
		"events.TypeEventAlreadyRegistered": {events.TypeEventAlreadyRegistered, events.AlreadyRegistered{Email: reg.Email, Name: reg.Name,
			RegistrationID: reg.RegistrationID, EventID: reg.EventID, EventTitle: reg.EventTitle, StartsAt: starts, EndsAt: ends,
			Location: reg.Location, Status: "confirmed", ManageExpires: reg.ManageExpires, AttemptedAt: at}},
		"events.TypeEventRescheduled": {events.TypeEventRescheduled, events.EventRescheduled{Email: reg.Email, Name: reg.Name,
			RegistrationID: reg.RegistrationID, Status: "confirmed", ManageExpires: reg.ManageExpires, EventID: reg.EventID,
			EventTitle: reg.EventTitle, StartsAt: starts.AddDate(0, 0, 7), EndsAt: ends.AddDate(0, 0, 7),
			Location: "A-Cube Centre, Room 4", PreviousStartsAt: starts, PreviousEndsAt: ends, PreviousLocation: reg.Location,
			RescheduledAt: at}},
		"events.TypeVolunteerApplied": {events.TypeVolunteerApplied, events.VolunteerApplied{Email: "bob@example.com", Name: "Bob Example",
			ApplicationID: id(40), AppliedAt: at}},
		"TypeVolunteerStatus": {TypeVolunteerStatus, StatusChanged{Entity: subjectEntity(TypeVolunteerStatus), ID: id(40),
			Email: "bob@example.com", Name: "Bob Example", PreviousStatus: "new", Status: "approved",
			ChangedBy: "admin@acube.local", ChangedAt: at}},
		"TypeVolunteerDeleted": {TypeVolunteerDeleted, Deleted{Entity: subjectEntity(TypeVolunteerDeleted), ID: id(40), JobID: job}},
		"events.TypeContactReceived": {events.TypeContactReceived, events.ContactReceived{Email: "carol@example.com", Name: "Carol Example",
			ContactID: id(50), ReceivedAt: at}},
		"TypeContactStatus": {TypeContactStatus, StatusChanged{Entity: subjectEntity(TypeContactStatus), ID: id(50),
			Email: "carol@example.com", Name: "Carol Example", PreviousStatus: "new", Status: "answered",
			ChangedBy: "admin@acube.local", ChangedAt: at}},
		"TypeContactDeleted": {TypeContactDeleted, Deleted{Entity: subjectEntity(TypeContactDeleted), ID: id(50), JobID: job}},
		"events.TypeJobProgress": {events.TypeJobProgress, events.JobProgress{JobID: job, Chunk: 0, Chunks: 1, Processed: 3, Succeeded: 2, Failed: 1,
			SucceededIDs: []string{id(10).String(), id(11).String()}, NotFoundIDs: []string{id(12).String()},
			Failures: []events.JobFailure{}}},
		"events.TypeJobOwnerCompleted": {events.TypeJobOwnerCompleted, events.JobOwnerCompleted{JobID: job, Chunks: 1, Processed: 3, Succeeded: 2, Failed: 1,
			CompletedAt: at}},
		// Audit records, one per entity booking audits, are the
		// platform's AuditRecord; one sample stands for them all.
		"audit": audit(Actor{ID: id(60).String(), Email: "admin@acube.local", ClientIP: "203.0.113.7"}, EntitySession,
			"status_changed", id(10).String(), map[string]any{"status": change{From: "pending", To: "confirmed"}}, at),
	}
}

// TestSamples checks that every type booking publishes has a sample with
// a key, and that the samples in libs/events (which the consumers decode
// in their tests) are what booking's code sends; -update-samples rewrites
// them.
func TestSamples(t *testing.T) {
	msgs := samples()
	for _, name := range typeConstants(t) {
		if _, ok := msgs[name]; !ok {
			t.Errorf("%s has no sample in samples()", name)
		}
	}
	for name, m := range msgs {
		ev, err := events.New(Source, m.Type, m.Data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ev.Key == "" {
			t.Errorf("%s (%s): data %T has no key", name, m.Type, m.Data)
		}
		eventstest.Golden(t, ev, m.Type)
	}
}

// TestKeysOrderWhatMustBeOrdered checks that events a consumer must apply
// in order share a key.
func TestKeysOrderWhatMustBeOrdered(t *testing.T) {
	key := func(name string) string {
		m := samples()[name]
		ev, err := events.New(Source, m.Type, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Key
	}
	tests := []struct {
		name string
		same []string
	}{
		{name: "a session's booking, status and deletion", same: []string{"events.TypeSessionBooked", "events.TypeSessionStatusChanged", "TypeSessionDeleted"}},
		{name: "a registration's notices", same: []string{"events.TypeEventRegistered", "events.TypeEventWaitlisted", "events.TypeEventPromoted",
			"events.TypeEventRescheduled", "events.TypeRegistrationCancelled", "events.TypeEventAlreadyRegistered"}},
		{name: "an event's own changes", same: []string{"TypeEventCreated", "TypeEventUpdated", "TypeEventImageUpdated", "TypeEventDeleted"}},
		{name: "an application", same: []string{"events.TypeVolunteerApplied", "TypeVolunteerStatus", "TypeVolunteerDeleted"}},
		{name: "a contact message", same: []string{"events.TypeContactReceived", "TypeContactStatus", "TypeContactDeleted"}},
		{name: "a job's chunks and completion", same: []string{"events.TypeJobProgress", "events.TypeJobOwnerCompleted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := key(tt.same[0])
			for _, name := range tt.same[1:] {
				if got := key(name); got != want {
					t.Errorf("%s has key %q, %s has %q", name, got, tt.same[0], want)
				}
			}
		})
	}
}

// typeConstants lists the names of the package's Type* constants, the
// event types booking publishes.
func typeConstants(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						if strings.HasPrefix(n.Name, "Type") {
							names = append(names, n.Name)
						}
					}
				}
			}
		}
	}
	return names
}

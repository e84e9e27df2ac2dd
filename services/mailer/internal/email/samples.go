package email

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// Samples returns one example event per template, keyed by template name,
// so a person can preview every email without sending it. The data follows
// docs/events/mailer.md.
func Samples() map[string]events.Event {
	at := time.Date(2025, time.March, 14, 9, 30, 0, 0, time.UTC)
	id := func(n byte) uuid.UUID {
		return uuid.UUID{0x01, 0x95, 0x8f, 0x2e, 0x1a, 0x00, 0x70, 0x00, 0x80, 0, 0, 0, 0, 0, 0, n}
	}
	const aliceEmail, aliceName = "alice@example.com", "Alice Example"
	const adminEmail, adminName = "admin@acube.local", "Ada Admin"
	// Manage links expire a week after the session day or the event's
	// end (BOOKING_LINK_TTL); the mailer mints them from these.
	sessionLinkExpires := time.Date(2025, time.April, 10, 0, 0, 0, 0, time.UTC)
	event := events.Registration{
		Email: aliceEmail, Name: aliceName, RegistrationID: id(31), EventID: id(30),
		EventTitle: "Mindfulness for Beginners", Location: "A-Cube Centre, Room 2",
		StartsAt:      time.Date(2025, time.April, 5, 17, 0, 0, 0, time.UTC),
		EndsAt:        time.Date(2025, time.April, 5, 19, 0, 0, 0, time.UTC),
		Status:        "confirmed",
		ManageExpires: time.Date(2025, time.April, 12, 19, 0, 0, 0, time.UTC),
	}
	waitlisted := event
	waitlisted.Status, waitlisted.WaitlistPosition = "waitlisted", 3
	cancelled := event
	cancelled.Status, cancelled.ManageExpires = "cancelled", time.Time{}
	cancelled.PreviousStatus, cancelled.CancelledBy, cancelled.CancelledAt = "confirmed", events.CancelledByRegistrant, at
	cancelledByAdmin := cancelled
	cancelledByAdmin.CancelledBy = adminEmail
	cancelledByAdmin.Reason = "The session is limited to first-time participants; we have kept a seat for you at the next one."
	rescheduled := events.EventRescheduled{
		Email: aliceEmail, Name: aliceName, RegistrationID: event.RegistrationID, Status: "confirmed",
		EventID: event.EventID, EventTitle: event.EventTitle,
		StartsAt: event.StartsAt.AddDate(0, 0, 7).Add(time.Hour), EndsAt: event.EndsAt.AddDate(0, 0, 7).Add(time.Hour),
		Location: "A-Cube Centre, Room 4", PreviousStartsAt: event.StartsAt, PreviousEndsAt: event.EndsAt,
		PreviousLocation: event.Location, RescheduledAt: at, ManageExpires: event.ManageExpires.AddDate(0, 0, 7),
	}
	samples := []struct {
		template, typ string
		data          any
	}{
		{"session_confirmation", events.TypeSessionBooked, events.SessionBooked{
			Email: aliceEmail, Name: aliceName, SessionID: id(10), SessionType: "individual", PreferredDate: "2025-04-02",
			Status: "pending", BookedAt: at, ManageExpires: sessionLinkExpires}},
		{"session_status_changed", events.TypeSessionStatusChanged, events.SessionStatusChanged{
			Email: aliceEmail, Name: aliceName, SessionID: id(10), SessionType: "individual", PreferredDate: "2025-04-02",
			PreviousStatus: "pending", Status: "confirmed", ChangedAt: at, ManageExpires: sessionLinkExpires}},
		{"event_registration", events.TypeEventRegistered, event},
		{"event_waitlisted", events.TypeEventWaitlisted, waitlisted},
		{"event_promoted", events.TypeEventPromoted, event},
		{"event_registration_cancelled", events.TypeRegistrationCancelled, cancelled},
		{"event_registration_cancelled_by_admin", events.TypeRegistrationCancelled, cancelledByAdmin},
		{"event_rescheduled", events.TypeEventRescheduled, rescheduled},
		{"event_already_registered", events.TypeEventAlreadyRegistered, events.AlreadyRegistered{
			Email: aliceEmail, Name: aliceName, RegistrationID: event.RegistrationID, EventID: event.EventID,
			EventTitle: event.EventTitle, StartsAt: event.StartsAt, EndsAt: event.EndsAt, Location: event.Location,
			Status: "waitlisted", WaitlistPosition: 2, ManageExpires: event.ManageExpires, AttemptedAt: at}},
		{"volunteer_application_received", events.TypeVolunteerApplied, events.VolunteerApplied{
			Email: aliceEmail, Name: aliceName, ApplicationID: id(40), AppliedAt: at}},
		{"contact_acknowledgment", events.TypeContactReceived, events.ContactReceived{
			Email: aliceEmail, Name: aliceName, ContactID: id(50), ReceivedAt: at}},
		{"welcome", events.TypeAccountCreated, events.AccountCreated{Email: adminEmail, Name: adminName, AccountID: id(60), CreatedAt: at}},
		{"invitation", events.TypeAccountInvited, events.AccountInvited{Email: adminEmail, Name: adminName, AccountID: id(61),
			InvitationID: id(62), Role: "admin", InvitedBy: events.AdminRef{Email: "root@acube.local"},
			AcceptURL: "/admin/invitation?token=sample-token", ExpiresAt: at.Add(24 * time.Hour), InvitedAt: at}},
		{"bulk_operation_report", events.TypeJobCompleted, events.JobCompleted{
			AdminEmail: adminEmail, AdminName: adminName, JobID: id(70), Action: "status_update", Entity: "volunteers",
			Status: "approved", State: "completed", Total: 150, Succeeded: 148, Failed: 2,
			RequestedAt: at, CompletedAt: at.Add(42 * time.Second), JobURL: "/admin/jobs/" + id(70).String()}},
		{"export_ready", events.TypeExportCompleted, events.ExportCompleted{
			AdminEmail: adminEmail, AdminName: adminName, ExportID: id(80), Kind: "audit-logs", Rows: 1234567, Bytes: 187_400_000,
			DownloadURL: "/api/admin/exports/" + id(80).String() + "/file",
			ExpiresAt:   at.Add(7 * 24 * time.Hour), CompletedAt: at}},
	}
	out := make(map[string]events.Event, len(samples))
	for i, s := range samples {
		raw, _ := json.Marshal(s.data) // plain structs always encode
		out[s.template] = events.Event{ID: id(byte(100 + i)), Type: s.typ, Source: "preview", OccurredAt: at, Data: raw}
	}
	return out
}

// SampleNames lists the templates Samples covers, sorted.
func SampleNames() []string {
	var names []string
	for n := range Samples() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Sample returns the example event of template name.
func Sample(name string) (events.Event, error) {
	ev, ok := Samples()[name]
	if !ok {
		return events.Event{}, fmt.Errorf("no email named %q; known: %v", name, SampleNames())
	}
	return ev, nil
}

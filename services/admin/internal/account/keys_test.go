package account

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/events/eventstest"
)

// TestSamples writes or checks the samples of the account events (run
// with -update-samples after changing them); each has the account's key.
func TestSamples(t *testing.T) {
	at := time.Date(2030, time.March, 14, 9, 30, 0, 0, time.UTC)
	id := uuid.MustParse("01958f2e-1a00-7000-8000-00000000003c")
	by := events.AdminRef{ID: "01958f2e-1a00-7000-8000-000000000001", Email: "root@acube.local"}
	audit := events.AuditRecord{ActorID: by.ID, ActorEmail: by.Email, Action: "create", Entity: Entity,
		EntityID: id.String(), ClientIP: "203.0.113.7",
		Changes:    events.AuditChanges(map[string]any{"email": "ada@acube.local", "name": "Ada Admin", "role": RoleAdmin}),
		OccurredAt: at}
	tests := []struct {
		typ  string
		data any
		want string
	}{
		{TypeAccountCreated, events.AccountCreated{AccountID: id, Email: "ada@acube.local", Name: "Ada Admin", Role: RoleAdmin,
			CreatedBy: by, CreatedAt: at}, events.AccountKey(id)},
		{TypeAccountDisabled, DisabledEvent{AccountID: id, Email: "ada@acube.local", DisabledBy: by, DisabledAt: at},
			events.AccountKey(id)},
		{events.TypeAccountInvited, events.AccountInvited{AccountID: id,
			InvitationID: uuid.MustParse("01958f2e-1a00-7000-8000-00000000003d"), Email: "ada@acube.local",
			Name: "Ada Admin", Role: RoleAdmin, InvitedBy: by, AcceptURL: "/admin/invitation?token=sample-token",
			ExpiresAt: at.Add(24 * time.Hour), InvitedAt: at}, events.AccountKey(id)},
		{audit.Subject(), audit, Entity + ":" + id.String()},
	}
	for _, tt := range tests {
		ev, err := events.New(Source, tt.typ, tt.data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Key != tt.want {
			t.Errorf("%s has key %q, want %q", tt.typ, ev.Key, tt.want)
		}
		eventstest.Golden(t, ev, tt.typ)
	}
}

package audit

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

func TestFromEvent(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01900000-0000-7000-8000-000000000001")
	envTime := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	dataTime := time.Date(2025, 3, 1, 11, 59, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name    string
		subject string
		data    string
		want    Record
		wantErr bool
	}{
		{
			name:    "full",
			subject: "audit.session.status_changed",
			data: `{"actor_id":"a1","actor_email":"ann@example.org","action":"status_changed","entity":"session",
				"entity_id":"s1","client_ip":"10.0.0.1","changes":{"status":["pending","confirmed"]},"occurred_at":"2025-03-01T11:59:00+01:00"}`,
			want: Record{EventID: id, OccurredAt: dataTime.UTC(), ActorID: "a1", ActorEmail: "ann@example.org",
				Action: "status_changed", Entity: "session", EntityID: "s1", ClientIP: "10.0.0.1",
				Changes: json.RawMessage(`{"status":["pending","confirmed"]}`)},
		},
		{
			name:    "entity, action and time from subject and envelope",
			subject: "audit.volunteer.delete",
			data:    `{"actor_id":"a1","entity_id":"v9"}`,
			want: Record{EventID: id, OccurredAt: envTime, ActorID: "a1", Action: "delete", Entity: "volunteer",
				EntityID: "v9", Changes: json.RawMessage(`{}`)},
		},
		{
			name:    "null changes",
			subject: "audit.admin.create",
			data:    `{"action":"create","entity":"admin","changes":null}`,
			want:    Record{EventID: id, OccurredAt: envTime, Action: "create", Entity: "admin", Changes: json.RawMessage(`{}`)},
		},
		{name: "not json", subject: "audit.x.y", data: `"nope"`, wantErr: true},
		{name: "changes not an object", subject: "audit.x.y", data: `{"changes":[1]}`, wantErr: true},
		{name: "no entity anywhere", subject: "other.thing", data: `{"action":"delete"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := events.Event{ID: id, Type: tt.subject, Source: "admin", OccurredAt: envTime, Data: json.RawMessage(tt.data)}
			got, err := FromEvent(ev)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("FromEvent error = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEvent: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromEvent mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		in         FilterInput
		want       Filter
		wantFields []string
	}{
		{name: "empty matches all", in: FilterInput{}, want: Filter{}},
		{
			name: "dates cover whole days",
			in:   FilterInput{Admin: " Ann@Example.org ", Action: "delete", Entity: "session", From: "2025-01-01", To: "2025-01-31"},
			want: Filter{Admin: "Ann@Example.org", Action: "delete", Entity: "session", From: day(2025, 1, 1), To: day(2025, 2, 1)},
		},
		{
			name: "instants kept exactly",
			in:   FilterInput{From: "2025-01-01T10:00:00+02:00", To: "2025-01-01T09:00:00Z"},
			want: Filter{From: time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC), To: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)},
		},
		{name: "bad dates", in: FilterInput{From: "yesterday", To: "2025-13-01"}, wantFields: []string{"from", "to"}},
		{name: "empty range", in: FilterInput{From: "2025-02-01", To: "2025-01-01"}, wantFields: []string{"to"}},
		{name: "same day is one day", in: FilterInput{From: "2025-02-01", To: "2025-02-01"}, want: Filter{From: day(2025, 2, 1), To: day(2025, 2, 2)}},
		{name: "control characters", in: FilterInput{Admin: "a\x00b", Entity: "x\ny"}, wantFields: []string{"admin", "entity"}},
		{name: "too long", in: FilterInput{Action: string(make([]byte, 300))}, wantFields: []string{"action"}},
		{
			name: "admin id in canonical form",
			in:   FilterInput{AdminID: " 0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B "},
			want: Filter{AdminID: "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"},
		},
		{name: "admin id not a uuid", in: FilterInput{AdminID: "a1"}, wantFields: []string{"admin_id"}},
		{name: "admin id without dashes", in: FilterInput{AdminID: "0190a5b27c3d7e4f8a9b0c1d2e3f4a5b"}, wantFields: []string{"admin_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFilter(tt.in)
			if tt.wantFields != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("ParseFilter error = %v, want a ValidationError", err)
				}
				for _, f := range tt.wantFields {
					if _, ok := ve.Fields[f]; !ok {
						t.Errorf("no error for field %s in %v", f, ve.Fields)
					}
				}
				if len(ve.Fields) != len(tt.wantFields) {
					t.Errorf("fields = %v, want only %v", ve.Fields, tt.wantFields)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseFilter mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

package events

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

func TestAuditRecordValidate(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 3, 14, 9, 30, 0, 0, time.UTC)
	ok := AuditRecord{Entity: "admin_account", Action: "status_changed", OccurredAt: at, Changes: json.RawMessage(`{"status":{"from":"a","to":"b"}}`)}
	tests := []struct {
		name    string
		edit    func(*AuditRecord)
		wantErr bool
	}{
		{name: "valid", edit: func(*AuditRecord) {}},
		{name: "no changes", edit: func(r *AuditRecord) { r.Changes = nil }},
		{name: "entity with a dot would split the subject", edit: func(r *AuditRecord) { r.Entity = "admin.account" }, wantErr: true},
		{name: "entity upper case", edit: func(r *AuditRecord) { r.Entity = "Admin" }, wantErr: true},
		{name: "entity empty", edit: func(r *AuditRecord) { r.Entity = "" }, wantErr: true},
		{name: "action starts with a digit", edit: func(r *AuditRecord) { r.Action = "1create" }, wantErr: true},
		{name: "action wildcard", edit: func(r *AuditRecord) { r.Action = "*" }, wantErr: true},
		{name: "no time", edit: func(r *AuditRecord) { r.OccurredAt = time.Time{} }, wantErr: true},
		{name: "changes not JSON", edit: func(r *AuditRecord) { r.Changes = json.RawMessage(`{"status":`) }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.edit(&r)
			err := r.Validate()
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrInvalidAudit)) {
				t.Errorf("Validate() = %v, want error %v (ErrInvalidAudit)", err, tt.wantErr)
			}
			if _, err := r.Event("admin"); (err != nil) != tt.wantErr {
				t.Errorf("Event() error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestAuditRecordEvent: the envelope is typed by the record's subject,
// tells the record's own time (in UTC, not the time it was wrapped), is
// keyed by the entity, and carries null for "nothing changed", so the
// audit log and the exporter read one shape.
func TestAuditRecordEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 3, 14, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	r := AuditRecord{ActorID: "a1", ActorEmail: "root@example.org", Entity: "sessions", Action: "status_changed", EntityID: "s-1", OccurredAt: at}
	ev, err := r.Event("booking")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "audit.sessions.status_changed" || ev.Subject() != ev.Type || ev.Source != "booking" {
		t.Errorf("envelope type %q subject %q source %q", ev.Type, ev.Subject(), ev.Source)
	}
	if !ev.OccurredAt.Equal(at) || ev.OccurredAt.Location() != time.UTC {
		t.Errorf("occurred_at %v, want %v in UTC", ev.OccurredAt, at)
	}
	if ev.Key != "sessions:s-1" || ev.OrderKey() != "sessions:s-1" {
		t.Errorf("key %q order key %q, want sessions:s-1", ev.Key, ev.OrderKey())
	}
	var back AuditRecord
	if err := ev.UnmarshalData(&back); err != nil {
		t.Fatal(err)
	}
	if string(back.Changes) != "null" || back.ActorEmail != r.ActorEmail || !back.OccurredAt.Equal(at) {
		t.Errorf("data %+v, want the record with changes null", back)
	}
}

func TestAuditChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{name: "nil is null", v: nil, want: "null"},
		{name: "from and to", v: map[string]map[string]string{"status": {"from": "a", "to": "b"}}, want: `{"status":{"from":"a","to":"b"}}`},
		{name: "unencodable becomes null, the record survives", v: math.Inf(1), want: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(AuditChanges(tt.v)); got != tt.want {
				t.Errorf("AuditChanges(%v) = %s, want %s", tt.v, got, tt.want)
			}
		})
	}
}

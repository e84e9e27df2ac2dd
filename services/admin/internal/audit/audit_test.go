package audit

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/acube/platform/libs/events"
)

func TestRecordValidate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	good := events.AuditRecord{Action: "create", Entity: "admin_account", OccurredAt: now}
	tests := []struct {
		name    string
		mod     func(*events.AuditRecord)
		wantErr bool
	}{
		{name: "ok", mod: func(*events.AuditRecord) {}},
		{name: "subject injection in entity", mod: func(r *events.AuditRecord) { r.Entity = "a.b" }, wantErr: true},
		{name: "wildcard action", mod: func(r *events.AuditRecord) { r.Action = ">" }, wantErr: true},
		{name: "upper case", mod: func(r *events.AuditRecord) { r.Action = "Create" }, wantErr: true},
		{name: "no time", mod: func(r *events.AuditRecord) { r.OccurredAt = time.Time{} }, wantErr: true},
		{name: "bad changes", mod: func(r *events.AuditRecord) { r.Changes = json.RawMessage("{") }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mod(&r)
			err := r.Validate()
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("Validate = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	ev, err := good.Event("admin")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "audit.admin_account.create" || string(mustData(t, ev.Data)["changes"]) != "null" {
		t.Fatalf("event = %+v", ev)
	}
}

func mustData(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

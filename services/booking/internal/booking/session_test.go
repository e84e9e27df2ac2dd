package booking

import (
	"errors"
	"github.com/acube/platform/libs/events"
	"strings"
	"testing"
	"time"
)

func TestNewSession(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 6, 1, 15, 0, 0, 0, time.UTC)
	ok := BookRequest{Email: "a@example.org", Name: "Ada", Phone: "+44 (20) 7946-0958",
		SessionType: "couple", PreferredDate: "2030-06-01", Message: "line one\nline two"}
	with := func(f func(*BookRequest)) BookRequest { r := ok; f(&r); return r }
	tests := []struct {
		name      string
		req       BookRequest
		wantField string // "" means valid
	}{
		{name: "valid, today", req: ok},
		{name: "missing email", req: with(func(r *BookRequest) { r.Email = " " }), wantField: "email"},
		{name: "display name", req: with(func(r *BookRequest) { r.Email = "Ada <a@example.org>" }), wantField: "email"},
		{name: "dotless domain", req: with(func(r *BookRequest) { r.Email = "a@localhost" }), wantField: "email"},
		{name: "long email", req: with(func(r *BookRequest) { r.Email = strings.Repeat("a", 250) + "@example.org" }), wantField: "email"},
		{name: "name with control", req: with(func(r *BookRequest) { r.Name = "A\x1bda" }), wantField: "name"},
		{name: "name with newline", req: with(func(r *BookRequest) { r.Name = "A\nda" }), wantField: "name"},
		{name: "long name", req: with(func(r *BookRequest) { r.Name = strings.Repeat("é", 201) }), wantField: "name"},
		{name: "short phone", req: with(func(r *BookRequest) { r.Phone = "12345" }), wantField: "phone"},
		{name: "phone with letters", req: with(func(r *BookRequest) { r.Phone = "555-CALL-NOW" }), wantField: "phone"},
		{name: "bad type", req: with(func(r *BookRequest) { r.SessionType = "Individual" }), wantField: "session_type"},
		{name: "yesterday", req: with(func(r *BookRequest) { r.PreferredDate = "2030-05-31" }), wantField: "preferred_date"},
		{name: "february 30", req: with(func(r *BookRequest) { r.PreferredDate = "2030-02-30" }), wantField: "preferred_date"},
		{name: "datetime", req: with(func(r *BookRequest) { r.PreferredDate = "2030-07-01T10:00:00Z" }), wantField: "preferred_date"},
		{name: "three years ahead", req: with(func(r *BookRequest) { r.PreferredDate = "2033-06-01" }), wantField: "preferred_date"},
		{name: "long message", req: with(func(r *BookRequest) { r.Message = strings.Repeat("m", 5001) }), wantField: "message"},
		{name: "invalid utf-8", req: with(func(r *BookRequest) { r.Message = "\xff" }), wantField: "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSession(tt.req, now)
			if tt.wantField == "" {
				if err != nil || s.Status != Pending || s.ID.Version() != 7 {
					t.Fatalf("NewSession = %+v, %v", s, err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Fields[tt.wantField] == "" {
				t.Fatalf("err = %v, want a field error on %s", err, tt.wantField)
			}
		})
	}
}

func TestCanMove(t *testing.T) {
	t.Parallel()
	all := []Status{Pending, Confirmed, Completed, Cancelled}
	want := map[[2]Status]bool{
		{Pending, Confirmed}: true, {Confirmed, Completed}: true,
		{Pending, Cancelled}: true, {Confirmed, Cancelled}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := CanMove(from, to); got != want[[2]Status{from, to}] {
				t.Errorf("CanMove(%s, %s) = %v", from, to, got)
			}
		}
	}
	s := Session{Status: Completed}
	if err := s.move(Cancelled, "", "", time.Now()); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("move = %v", err)
	}
}

func TestCheckJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		req     events.JobRequest
		wantErr bool
	}{
		{name: "delete sessions", req: events.JobRequest{Entity: BulkSessions, Action: JobDelete}},
		{name: "delete events", req: events.JobRequest{Entity: BulkEvents, Action: JobDelete}},
		{name: "confirm sessions", req: events.JobRequest{Entity: BulkSessions, Action: JobStatusUpdate, Status: "confirmed"}},
		{name: "archive contact", req: events.JobRequest{Entity: BulkContact, Action: JobStatusUpdate, Status: "archived"}},
		{name: "approve volunteers", req: events.JobRequest{Entity: BulkVolunteers, Action: JobStatusUpdate, Status: "approved"}},
		{name: "unknown entity", req: events.JobRequest{Entity: "admins", Action: JobDelete}, wantErr: true},
		{name: "unknown action", req: events.JobRequest{Entity: BulkSessions, Action: "purge"}, wantErr: true},
		{name: "volunteer status on contact", req: events.JobRequest{Entity: BulkContact, Action: JobStatusUpdate, Status: "approved"}, wantErr: true},
		{name: "events status", req: events.JobRequest{Entity: BulkEvents, Action: JobStatusUpdate, Status: "x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkJob(tt.req) != ""; got != tt.wantErr {
				t.Fatalf("checkJob = %q", checkJob(tt.req))
			}
		})
	}
}

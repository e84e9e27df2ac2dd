package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
)

// Volunteer is one volunteer application.
type Volunteer struct {
	ID           uuid.UUID
	Email        string
	Name         string
	Phone        string
	Interests    string
	Availability string
	Message      string
	Status       string
	// StatusReason says why an admin last changed the status; empty when
	// they gave no reason.
	StatusReason string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// VolunteerRequest is the volunteer application form.
type VolunteerRequest struct {
	Email        string
	Name         string
	Phone        string
	Interests    string
	Availability string
	Message      string
}

// Volunteer application statuses. Admins move applications between them
// freely: a review is a judgement, not a workflow with illegal moves.
const (
	VolunteerPending   = "pending"
	VolunteerReviewing = "reviewing"
	VolunteerApproved  = "approved"
	VolunteerRejected  = "rejected"
)

// ValidVolunteerStatus reports whether s is a volunteer status.
func ValidVolunteerStatus(s string) bool {
	switch s {
	case VolunteerPending, VolunteerReviewing, VolunteerApproved, VolunteerRejected:
		return true
	}
	return false
}

// Apply stores a volunteer application and its acknowledgment event.
func (s *Service) Apply(ctx context.Context, req VolunteerRequest) (Volunteer, error) {
	fields := map[string]string{}
	now := s.clock()
	v := Volunteer{Status: VolunteerPending, CreatedAt: now, UpdatedAt: now}
	v.Email = checkEmail(fields, req.Email)
	v.Name = checkText(fields, "name", req.Name, maxName, true)
	v.Phone = checkPhone(fields, req.Phone, false)
	v.Interests = checkText(fields, "interests", req.Interests, maxMessage, false)
	v.Availability = checkText(fields, "availability", req.Availability, maxMessage, false)
	v.Message = checkText(fields, "message", req.Message, maxMessage, false)
	if err := invalid(fields); err != nil {
		return Volunteer{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Volunteer{}, err
	}
	v.ID = id
	msg := Message{Type: events.TypeVolunteerApplied, Data: events.VolunteerApplied{Email: v.Email, Name: v.Name,
		ApplicationID: v.ID, AppliedAt: now}}
	if err := s.store.AddVolunteer(ctx, v, []Message{msg}); err != nil {
		return Volunteer{}, fmt.Errorf("store volunteer application: %w", err)
	}
	return v, nil
}

// Volunteers lists applications for an admin, newest first.
func (s *Service) Volunteers(ctx context.Context, f Filter) (Page[Volunteer], error) {
	if err := checkFilter(&f, ValidVolunteerStatus); err != nil {
		return Page[Volunteer]{}, err
	}
	limit := f.Limit
	f.Limit++
	items, err := s.store.Volunteers(ctx, f)
	if err != nil {
		return Page[Volunteer]{}, fmt.Errorf("list volunteers: %w", err)
	}
	return paginate(items, limit, func(v Volunteer) keyset.Cursor { return keyset.Cursor{At: v.CreatedAt, ID: v.ID} }), nil
}

// SetVolunteerStatus sets an application's status for an admin. The
// optional reason (at most 1,000 characters, as for sessions) is kept on
// the application, as a session keeps its status_reason, and goes into
// the status event and the audit record.
func (s *Service) SetVolunteerStatus(ctx context.Context, a Actor, id uuid.UUID, status, reason string) (Volunteer, error) {
	fields := map[string]string{}
	if !ValidVolunteerStatus(status) {
		fields["status"] = "must be one of pending, reviewing, approved, rejected"
	}
	reason = checkText(fields, "reason", reason, maxReason, false)
	if err := invalid(fields); err != nil {
		return Volunteer{}, err
	}
	v, err := s.store.UpdateVolunteer(ctx, id, func(v *Volunteer) ([]Message, error) {
		return s.setStatus(a, EntityVolunteer, TypeVolunteerStatus, v.ID, v.Email, v.Name, &v.Status, &v.StatusReason, &v.UpdatedAt, status, reason, true), nil
	})
	if err != nil {
		return Volunteer{}, fmt.Errorf("set status of volunteer application %s: %w", id, err)
	}
	return v, nil
}

// setStatus moves a freely-set status and describes the change, with the
// admin's reason if any; no message when nothing changes.
func (s *Service) setStatus(a Actor, entity, typ string, id uuid.UUID, email, name string, cur, curReason *string, updated *time.Time, to, reason string, audited bool) []Message {
	if *cur == to {
		return nil
	}
	now := s.clock()
	from := *cur
	*cur, *curReason, *updated = to, reason, now
	msgs := []Message{{Type: typ, Data: StatusChanged{Entity: subjectEntity(typ), ID: id, Email: email, Name: name,
		PreviousStatus: from, Status: to, Reason: reason, ChangedBy: a.Email, ChangedAt: now}}}
	if audited {
		changes := map[string]any{"status": change{From: from, To: to}}
		if reason != "" {
			changes["reason"] = reason
		}
		msgs = append(msgs, audit(a, entity, "status_changed", id.String(), changes, now))
	}
	return msgs
}

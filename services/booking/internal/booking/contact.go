package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
)

// Contact is one message sent through the contact form.
type Contact struct {
	ID      uuid.UUID
	Email   string
	Name    string
	Phone   string
	Subject string
	Message string
	Status  string
	// StatusReason says why an admin last changed the status; empty when
	// they gave no reason.
	StatusReason string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ContactRequest is the contact form.
type ContactRequest struct {
	Email   string
	Name    string
	Phone   string
	Subject string
	Message string
}

// Contact message statuses, set freely by admins.
const (
	ContactNew      = "new"
	ContactRead     = "read"
	ContactReplied  = "replied"
	ContactArchived = "archived"
)

// ValidContactStatus reports whether s is a contact message status.
func ValidContactStatus(s string) bool {
	switch s {
	case ContactNew, ContactRead, ContactReplied, ContactArchived:
		return true
	}
	return false
}

// Contact stores a contact message and its acknowledgment event.
func (s *Service) Contact(ctx context.Context, req ContactRequest) (Contact, error) {
	fields := map[string]string{}
	now := s.clock()
	c := Contact{Status: ContactNew, CreatedAt: now, UpdatedAt: now}
	c.Email = checkEmail(fields, req.Email)
	c.Name = checkText(fields, "name", req.Name, maxName, true)
	c.Phone = checkPhone(fields, req.Phone, false)
	c.Subject = checkText(fields, "subject", req.Subject, maxTitle, false)
	c.Message = checkText(fields, "message", req.Message, maxMessage, true)
	if err := invalid(fields); err != nil {
		return Contact{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Contact{}, err
	}
	c.ID = id
	msg := Message{Type: events.TypeContactReceived, Data: events.ContactReceived{Email: c.Email, Name: c.Name,
		ContactID: c.ID, ReceivedAt: now}}
	if err := s.store.AddContact(ctx, c, []Message{msg}); err != nil {
		return Contact{}, fmt.Errorf("store contact message: %w", err)
	}
	return c, nil
}

// Contacts lists contact messages for an admin, newest first.
func (s *Service) Contacts(ctx context.Context, f Filter) (Page[Contact], error) {
	if err := checkFilter(&f, ValidContactStatus); err != nil {
		return Page[Contact]{}, err
	}
	limit := f.Limit
	f.Limit++
	items, err := s.store.Contacts(ctx, f)
	if err != nil {
		return Page[Contact]{}, fmt.Errorf("list contact messages: %w", err)
	}
	return paginate(items, limit, func(c Contact) keyset.Cursor { return keyset.Cursor{At: c.CreatedAt, ID: c.ID} }), nil
}

// SetContactStatus sets a contact message's status for an admin; the
// optional reason is kept as SetVolunteerStatus keeps it.
func (s *Service) SetContactStatus(ctx context.Context, a Actor, id uuid.UUID, status, reason string) (Contact, error) {
	fields := map[string]string{}
	if !ValidContactStatus(status) {
		fields["status"] = "must be one of new, read, replied, archived"
	}
	reason = checkText(fields, "reason", reason, maxReason, false)
	if err := invalid(fields); err != nil {
		return Contact{}, err
	}
	c, err := s.store.UpdateContact(ctx, id, func(c *Contact) ([]Message, error) {
		return s.setStatus(a, EntityContact, TypeContactStatus, c.ID, c.Email, c.Name, &c.Status, &c.StatusReason, &c.UpdatedAt, status, reason, true), nil
	})
	if err != nil {
		return Contact{}, fmt.Errorf("set status of contact message %s: %w", id, err)
	}
	return c, nil
}

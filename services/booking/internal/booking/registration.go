package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/managelink"
)

// RegistrationStatus is where a registration stands.
type RegistrationStatus string

// Registration statuses. A waitlisted registration becomes confirmed when
// a confirmed one is cancelled; first come, first served.
const (
	RegConfirmed  RegistrationStatus = "confirmed"
	RegWaitlisted RegistrationStatus = "waitlisted"
	RegCancelled  RegistrationStatus = "cancelled"
)

// Registration is one person's place at an event, or on its waitlist.
type Registration struct {
	ID      uuid.UUID
	EventID uuid.UUID
	Email   string
	Name    string
	Phone   string
	Status  RegistrationStatus
	// WaitlistPosition is the 1-based place on the waitlist when
	// waitlisted, by order of registration; 0 otherwise.
	WaitlistPosition int
	// CancelledBy is who cancelled: CancelledByRegistrant or an admin's
	// email; empty unless cancelled.
	CancelledBy string
	// CancelReason is the reason an admin gave when cancelling.
	CancelReason string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// CancelledByRegistrant is Registration.CancelledBy when the person
// cancelled through the manage link.
const CancelledByRegistrant = "registrant"

// RegisterRequest is what a person submits to register for an event.
type RegisterRequest struct {
	Email string
	Name  string
	Phone string
}

func validRegistrationStatus(s string) bool {
	switch RegistrationStatus(s) {
	case RegConfirmed, RegWaitlisted, RegCancelled:
		return true
	}
	return false
}

// Register takes a seat at the event for req's person, or a place on the
// waitlist once the seats are gone. The store holds the event's row lock
// while deciding, so concurrent registrations never overbook.
//
// An address that already holds a live registration for the event gets
// the answer a new one would have had (the same status, a fresh id that
// names nothing) while nothing is stored: the form must not tell whoever
// fills it in whether an address is registered (issue 13, finding 5).
// The registrant hears of the attempt by email instead
// (booking.event.already_registered, with their manage link).
func (s *Service) Register(ctx context.Context, eventID uuid.UUID, req RegisterRequest) (Registration, error) {
	fields := map[string]string{}
	now := s.clock()
	r := Registration{EventID: eventID, CreatedAt: now, UpdatedAt: now}
	r.Email = checkEmail(fields, req.Email)
	r.Name = checkText(fields, "name", req.Name, maxName, true)
	r.Phone = checkPhone(fields, req.Phone, false)
	if err := invalid(fields); err != nil {
		return Registration{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Registration{}, err
	}
	r.ID = id
	decide := func(e Event, waiting int) (Registration, []Message, error) {
		if !e.StartsAt.After(now) {
			return Registration{}, nil, ErrEventPast
		}
		typ := events.TypeEventRegistered
		r.Status = RegConfirmed
		if e.Confirmed >= e.Capacity {
			typ, r.Status, r.WaitlistPosition = events.TypeEventWaitlisted, RegWaitlisted, waiting+1
		}
		return r, []Message{{Type: typ, Data: s.registrationData(r, e)}}, nil
	}
	repeat := func(e Event, existing Registration) []Message {
		return []Message{{Type: events.TypeEventAlreadyRegistered, Data: events.AlreadyRegistered{
			Email: existing.Email, Name: existing.Name, RegistrationID: existing.ID, EventID: e.ID,
			EventTitle: e.Title, StartsAt: e.StartsAt, EndsAt: e.EndsAt, Location: e.Location,
			Status: string(existing.Status), WaitlistPosition: existing.WaitlistPosition,
			ManageExpires: s.RegistrationLinkExpiry(e.EndsAt), AttemptedAt: now,
		}}}
	}
	r, _, err = s.store.Register(ctx, eventID, decide, repeat)
	if err != nil {
		return Registration{}, fmt.Errorf("register for event %s: %w", eventID, err)
	}
	return r, nil
}

func (s *Service) registrationData(r Registration, e Event) events.Registration {
	d := events.Registration{Email: r.Email, Name: r.Name, RegistrationID: r.ID, EventID: e.ID,
		EventTitle: e.Title, StartsAt: e.StartsAt, EndsAt: e.EndsAt, Location: e.Location,
		Status: string(r.Status), WaitlistPosition: r.WaitlistPosition}
	if r.Status != RegCancelled {
		d.ManageExpires = s.RegistrationLinkExpiry(e.EndsAt)
	} else {
		d.CancelledBy, d.Reason = r.CancelledBy, r.CancelReason
	}
	return d
}

// RegistrationByLink returns a registration and its event to whoever holds
// its manage token.
func (s *Service) RegistrationByLink(ctx context.Context, id uuid.UUID, token string) (Registration, Event, error) {
	if err := s.links.Verify(managelink.KindRegistration, id.String(), token, s.clock()); err != nil {
		return Registration{}, Event{}, ErrBadLink
	}
	r, e, err := s.store.Registration(ctx, id)
	if err != nil {
		return Registration{}, Event{}, fmt.Errorf("get registration %s: %w", id, err)
	}
	return r, e, nil
}

// CancelRegistrationByLink cancels a registration for its holder, with an
// optional reason, as a session's booker may. When it held a seat, the
// first person on the waitlist gets the seat and is told.
func (s *Service) CancelRegistrationByLink(ctx context.Context, id uuid.UUID, token, reason string) (Registration, error) {
	if err := s.links.Verify(managelink.KindRegistration, id.String(), token, s.clock()); err != nil {
		return Registration{}, ErrBadLink
	}
	fields := map[string]string{}
	reason = checkText(fields, "reason", reason, maxReason, false)
	if err := invalid(fields); err != nil {
		return Registration{}, err
	}
	return s.cancelRegistration(ctx, id, Actor{Email: CancelledByRegistrant}, reason, false)
}

// CancelRegistration cancels a registration on an admin's behalf, with an
// optional reason, exactly as its holder would (the freed seat goes to the
// first waitlisted person), and audits it.
func (s *Service) CancelRegistration(ctx context.Context, a Actor, id uuid.UUID, reason string) (Registration, error) {
	fields := map[string]string{}
	reason = checkText(fields, "reason", reason, maxReason, false)
	if err := invalid(fields); err != nil {
		return Registration{}, err
	}
	return s.cancelRegistration(ctx, id, a, reason, true)
}

// cancelRegistration is the one cancellation of both paths; audited says
// whether it is an admin action.
func (s *Service) cancelRegistration(ctx context.Context, id uuid.UUID, a Actor, reason string, audited bool) (Registration, error) {
	now := s.clock()
	r, err := s.store.CancelRegistration(ctx, id, func(e *Event, r *Registration, w Waitlist) ([]Message, error) {
		switch {
		case r.Status == RegCancelled:
			return nil, fmt.Errorf("%w: the registration is already cancelled", ErrIllegalTransition)
		case !e.StartsAt.After(now):
			return nil, fmt.Errorf("%w: the event has started", ErrTooLate)
		}
		from := r.Status
		if from == RegConfirmed {
			e.Confirmed--
		} else {
			e.Waitlisted--
		}
		r.Status, r.WaitlistPosition, r.UpdatedAt = RegCancelled, 0, now
		r.CancelledBy, r.CancelReason = a.Email, reason
		d := s.registrationData(*r, *e)
		d.PreviousStatus, d.CancelledAt = string(from), now
		msgs := []Message{{Type: events.TypeRegistrationCancelled, Data: d}}
		_, promoted, err := s.fillSeats(ctx, e, w, now)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, promoted...)
		if audited {
			changes := map[string]any{"status": change{From: from, To: RegCancelled}, "reason": reason,
				"event_id": e.ID, "promoted": len(promoted)}
			msgs = append(msgs, audit(a, EntityRegistration, "cancelled", r.ID.String(), changes, now))
		}
		return msgs, nil
	})
	if err != nil {
		return Registration{}, fmt.Errorf("cancel registration %s: %w", id, err)
	}
	return r, nil
}

// fillSeats gives e's free seats to the first people on its waitlist, in
// waitlist order, and describes each as booking.event.promoted (the
// mailer's "A Seat Opened Up"). A cancellation frees one seat; a raised
// capacity may free many. It returns the ids of the people seated too.
func (s *Service) fillSeats(ctx context.Context, e *Event, w Waitlist, now time.Time) (map[uuid.UUID]bool, []Message, error) {
	n := min(e.SeatsLeft(), e.Waitlisted)
	if n <= 0 {
		return nil, nil, nil
	}
	next, err := w.First(ctx, n)
	if err != nil {
		return nil, nil, fmt.Errorf("read the waitlist of event %s: %w", e.ID, err)
	}
	seated := make(map[uuid.UUID]bool, len(next))
	msgs := make([]Message, 0, len(next))
	for _, r := range next {
		r.Status, r.WaitlistPosition, r.UpdatedAt = RegConfirmed, 0, now
		e.Confirmed++
		e.Waitlisted--
		seated[r.ID] = true
		msgs = append(msgs, Message{Type: events.TypeEventPromoted, Data: s.registrationData(*r, *e)})
	}
	return seated, msgs, nil
}

// Registrations lists an event's registrations for an admin, in order of
// registration.
func (s *Service) Registrations(ctx context.Context, eventID uuid.UUID, f Filter) (Page[Registration], error) {
	if err := checkFilter(&f, validRegistrationStatus); err != nil {
		return Page[Registration]{}, err
	}
	if _, err := s.Event(ctx, eventID); err != nil {
		return Page[Registration]{}, err
	}
	limit := f.Limit
	f.Limit++
	items, err := s.store.Registrations(ctx, eventID, f)
	if err != nil {
		return Page[Registration]{}, fmt.Errorf("list registrations of event %s: %w", eventID, err)
	}
	return paginate(items, limit, func(r Registration) keyset.Cursor { return keyset.Cursor{At: r.CreatedAt, ID: r.ID} }), nil
}

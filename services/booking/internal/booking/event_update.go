package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

// EventChanges is an admin's partial update of an event: a nil field keeps
// its value. Times are RFC 3339, as in EventRequest.
type EventChanges struct {
	Title       *string
	Description *string
	Location    *string
	StartsAt    *string
	EndsAt      *string
	Capacity    *int
}

// eventPatch is EventChanges checked field by field, as NewEvent checks
// a new event's fields.
type eventPatch struct {
	title, description, location *string
	startsAt, endsAt             *time.Time
	capacity                     *int
}

func (c EventChanges) parse() (eventPatch, error) {
	fields := map[string]string{}
	var p eventPatch
	text := func(name string, v *string, max int, required bool) *string {
		if v == nil {
			return nil
		}
		t := checkText(fields, name, *v, max, required)
		return &t
	}
	at := func(name string, v *string) *time.Time {
		if v == nil {
			return nil
		}
		t := checkTime(fields, name, *v)
		return &t
	}
	p.title = text("title", c.Title, maxTitle, true)
	p.description = text("description", c.Description, maxMessage, false)
	p.location = text("location", c.Location, maxPlace, false)
	p.startsAt, p.endsAt = at("starts_at", c.StartsAt), at("ends_at", c.EndsAt)
	if c.Capacity != nil {
		checkCapacity(fields, *c.Capacity)
		p.capacity = c.Capacity
	}
	return p, invalid(fields)
}

// apply sets p's fields on e and returns what changed, by field name.
func (p eventPatch) apply(e *Event) map[string]change {
	diff := map[string]change{}
	set(diff, "title", &e.Title, p.title, eq)
	set(diff, "description", &e.Description, p.description, eq)
	set(diff, "location", &e.Location, p.location, eq)
	set(diff, "starts_at", &e.StartsAt, p.startsAt, time.Time.Equal)
	set(diff, "ends_at", &e.EndsAt, p.endsAt, time.Time.Equal)
	set(diff, "capacity", &e.Capacity, p.capacity, eq)
	return diff
}

func eq[T comparable](a, b T) bool { return a == b }

// set puts *v in *dst and records the change, unless v is nil or the same.
func set[T any](diff map[string]change, name string, dst, v *T, same func(T, T) bool) {
	if v == nil || same(*dst, *v) {
		return
	}
	diff[name] = change{From: *dst, To: *v}
	*dst = *v
}

// UpdateEvent applies an admin's changes to an event under its row lock,
// so it serialises with registrations and cancellations: the capacity may
// not drop below the seats confirmed, and the seats a raised capacity
// frees go to the waitlist in order in the same transaction, as a
// cancellation's do (unless the event has started: then, as for
// registering, nobody joins). A new time or place is told to every live
// registration, in the same transaction. An event that has ended cannot
// be changed. Changes that leave everything as it is emit nothing.
func (s *Service) UpdateEvent(ctx context.Context, a Actor, id uuid.UUID, c EventChanges) (Event, error) {
	p, err := c.parse()
	if err != nil {
		return Event{}, err
	}
	now := s.clock()
	e, err := s.store.UpdateEvent(ctx, id, func(e *Event, w Waitlist, regs Registrants) ([]Message, error) {
		if !e.EndsAt.After(now) {
			return nil, ErrEventEnded
		}
		before := *e
		diff := p.apply(e)
		fields := map[string]string{}
		checkSchedule(fields, *e, now, !e.StartsAt.Equal(before.StartsAt), !e.EndsAt.Equal(before.EndsAt))
		if err := invalid(fields); err != nil {
			return nil, err
		}
		if e.Capacity < e.Confirmed {
			return nil, &CapacityError{Capacity: e.Capacity, Confirmed: e.Confirmed}
		}
		if len(diff) == 0 {
			return nil, nil
		}
		e.UpdatedAt = now
		var (
			seated   map[uuid.UUID]bool
			promoted []Message
			notices  []Message
			err      error
		)
		if e.StartsAt.After(now) { // once it runs, nobody joins from the waitlist, as nobody registers
			if seated, promoted, err = s.fillSeats(ctx, e, w, now); err != nil {
				return nil, err
			}
		}
		if movedOrRelocated(diff) {
			if notices, err = s.rescheduled(ctx, before, *e, regs, seated, now); err != nil {
				return nil, err
			}
		}
		updated := EventUpdated{EventID: e.ID, Title: e.Title, StartsAt: e.StartsAt, EndsAt: e.EndsAt,
			Location: e.Location, Capacity: e.Capacity, Changes: diff, Promoted: len(promoted),
			Notified: len(notices), UpdatedBy: a.Email, UpdatedAt: now}
		changes := make(map[string]any, len(diff)+1)
		for k, v := range diff {
			changes[k] = v
		}
		if len(promoted) > 0 {
			changes["promoted"] = len(promoted)
		}
		msgs := []Message{
			{Type: TypeEventUpdated, Data: updated},
			audit(a, EntityEvent, "updated", e.ID.String(), changes, now),
		}
		msgs = append(msgs, promoted...)
		return append(msgs, notices...), nil
	})
	if err != nil {
		return Event{}, fmt.Errorf("update event %s: %w", id, err)
	}
	return e, nil
}

// movedOrRelocated reports whether diff changes what registrants planned
// around: the time or the place. A new title, description or capacity
// is not worth an email to everyone.
func movedOrRelocated(diff map[string]change) bool {
	for _, f := range []string{"starts_at", "ends_at", "location"} {
		if _, ok := diff[f]; ok {
			return true
		}
	}
	return false
}

// rescheduled tells each live registration of after that its time or place
// changed from before's, as booking.event.rescheduled. seated are the
// registrations the same change took off the waitlist: the store saves
// them after fn returns, so Live still shows them waitlisted. Waitlist
// positions are counted here, after those promotions, in Live's order,
// which is the waitlist's.
func (s *Service) rescheduled(ctx context.Context, before, after Event, regs Registrants, seated map[uuid.UUID]bool, now time.Time) ([]Message, error) {
	live, err := regs.Live(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the registrations of event %s: %w", after.ID, err)
	}
	msgs := make([]Message, 0, len(live))
	position := 0
	for _, r := range live {
		if seated[r.ID] {
			r.Status = RegConfirmed
		}
		r.WaitlistPosition = 0
		switch r.Status {
		case RegConfirmed:
		case RegWaitlisted:
			position++
			r.WaitlistPosition = position
		default:
			continue // a cancelled registration has nothing to come to
		}
		msgs = append(msgs, Message{Type: events.TypeEventRescheduled, Data: events.EventRescheduled{
			Email: r.Email, Name: r.Name, RegistrationID: r.ID, Status: string(r.Status),
			WaitlistPosition: r.WaitlistPosition, ManageExpires: s.RegistrationLinkExpiry(after.EndsAt),
			EventID: after.ID, EventTitle: after.Title,
			StartsAt: after.StartsAt, EndsAt: after.EndsAt, Location: after.Location,
			PreviousStartsAt: before.StartsAt, PreviousEndsAt: before.EndsAt, PreviousLocation: before.Location,
			RescheduledAt: now,
		}})
	}
	return msgs, nil
}

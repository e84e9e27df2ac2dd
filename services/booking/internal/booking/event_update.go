package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
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
// registering, nobody joins). An event that has ended cannot be changed.
// Changes that leave everything as it is emit nothing.
func (s *Service) UpdateEvent(ctx context.Context, a Actor, id uuid.UUID, c EventChanges) (Event, error) {
	p, err := c.parse()
	if err != nil {
		return Event{}, err
	}
	now := s.clock()
	e, err := s.store.UpdateEvent(ctx, id, func(e *Event, w Waitlist) ([]Message, error) {
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
		var promoted []Message
		if e.StartsAt.After(now) { // once it runs, nobody joins from the waitlist, as nobody registers
			var err error
			if promoted, err = s.fillSeats(ctx, e, w, now); err != nil {
				return nil, err
			}
		}
		updated := EventUpdated{EventID: e.ID, Title: e.Title, StartsAt: e.StartsAt, EndsAt: e.EndsAt,
			Location: e.Location, Capacity: e.Capacity, Changes: diff, Promoted: len(promoted),
			UpdatedBy: a.Email, UpdatedAt: now}
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
		return append(msgs, promoted...), nil
	})
	if err != nil {
		return Event{}, fmt.Errorf("update event %s: %w", id, err)
	}
	return e, nil
}

package booking

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/keyset"
)

// Event is a scheduled event people register for, up to its capacity.
type Event struct {
	ID          uuid.UUID
	Title       string
	Description string
	Location    string
	StartsAt    time.Time
	EndsAt      time.Time
	Capacity    int
	// Confirmed counts the seats taken; it never exceeds Capacity.
	Confirmed int
	// Waitlisted counts the people waiting for a seat.
	Waitlisted int
	// ImageType is the cover image's media type; empty when none.
	ImageType string
	ImageSize int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SeatsLeft is how many more people get a seat without waiting.
func (e Event) SeatsLeft() int { return max(0, e.Capacity-e.Confirmed) }

// EventRequest is what an admin submits to create an event.
type EventRequest struct {
	Title       string
	Description string
	Location    string
	StartsAt    string // RFC 3339
	EndsAt      string // RFC 3339
	Capacity    int
}

// Bounds on events.
const (
	MaxCapacity   = 100000
	maxEventSpan  = 31 * 24 * time.Hour
	maxEventAhead = 3 * 365 * 24 * time.Hour
)

// NewEvent validates req and returns the event it describes.
func NewEvent(req EventRequest, now time.Time) (Event, error) {
	fields := map[string]string{}
	e := Event{CreatedAt: now, UpdatedAt: now, Capacity: req.Capacity}
	e.Title = checkText(fields, "title", req.Title, maxTitle, true)
	e.Description = checkText(fields, "description", req.Description, maxMessage, false)
	e.Location = checkText(fields, "location", req.Location, maxPlace, false)
	e.StartsAt = checkTime(fields, "starts_at", req.StartsAt)
	e.EndsAt = checkTime(fields, "ends_at", req.EndsAt)
	checkCapacity(fields, req.Capacity)
	checkSchedule(fields, e, now, true, true)
	if err := invalid(fields); err != nil {
		return Event{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, err
	}
	e.ID = id
	return e, nil
}

func checkCapacity(fields map[string]string, capacity int) {
	if capacity < 1 || capacity > MaxCapacity {
		fields["capacity"] = "must be between 1 and 100000"
	}
}

// checkSchedule adds the rules between e's times and the clock to fields
// (unless a time is malformed already): a start that moved lies in the
// future, within three years; the end lies after the start, within 31
// days of it, and in the future when it moved. A time an admin leaves as
// it is need not be in the future, so a running event can still be fixed.
func checkSchedule(fields map[string]string, e Event, now time.Time, startMoved, endMoved bool) {
	if _, bad := fields["starts_at"]; !bad && startMoved {
		switch {
		case !e.StartsAt.After(now):
			fields["starts_at"] = "must be in the future"
		case e.StartsAt.After(now.Add(maxEventAhead)):
			fields["starts_at"] = "must be within three years"
		}
	}
	if _, bad := fields["ends_at"]; !bad && fields["starts_at"] == "" {
		switch {
		case !e.EndsAt.After(e.StartsAt):
			fields["ends_at"] = "must be after starts_at"
		case e.EndsAt.Sub(e.StartsAt) > maxEventSpan:
			fields["ends_at"] = "must be within 31 days of starts_at"
		case endMoved && !e.EndsAt.After(now):
			fields["ends_at"] = "must be in the future"
		}
	}
}

func checkTime(fields map[string]string, name, v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		fields[name] = "is required"
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		fields[name] = "must be a date and time as RFC 3339, like 2030-05-01T18:00:00Z"
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

// CreateEvent stores a new event for an admin.
func (s *Service) CreateEvent(ctx context.Context, a Actor, req EventRequest) (Event, error) {
	now := s.clock()
	e, err := NewEvent(req, now)
	if err != nil {
		return Event{}, err
	}
	created := EventCreated{EventID: e.ID, Title: e.Title, StartsAt: e.StartsAt, EndsAt: e.EndsAt,
		Location: e.Location, Capacity: e.Capacity}
	msgs := []Message{
		{Type: TypeEventCreated, Data: created},
		audit(a, EntityEvent, "created", e.ID.String(), created, now),
	}
	if err := s.store.CreateEvent(ctx, e, msgs); err != nil {
		return Event{}, fmt.Errorf("create event: %w", err)
	}
	return e, nil
}

// Event returns one event with its seat counts.
func (s *Service) Event(ctx context.Context, id uuid.UUID) (Event, error) {
	e, err := s.store.Event(ctx, id)
	if err != nil {
		return Event{}, fmt.Errorf("get event %s: %w", id, err)
	}
	return e, nil
}

// UpcomingEvents lists events that have not ended, soonest first. Without
// a From bound the list starts now.
func (s *Service) UpcomingEvents(ctx context.Context, f Filter) (Page[Event], error) {
	if err := checkFilter(&f, func(string) bool { return false }); err != nil {
		return Page[Event]{}, err
	}
	if f.From.IsZero() {
		f.From = s.clock()
	}
	limit := f.Limit
	f.Limit++
	items, err := s.store.Events(ctx, f)
	if err != nil {
		return Page[Event]{}, fmt.Errorf("list events: %w", err)
	}
	return paginate(items, limit, func(e Event) keyset.Cursor { return keyset.Cursor{At: e.StartsAt, ID: e.ID} }), nil
}

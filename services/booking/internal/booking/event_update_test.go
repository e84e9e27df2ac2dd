package booking

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/managelink"
)

// eventStore is a Store of one event, its waitlist and its live
// registrations, in memory: enough for UpdateEvent's rules without a
// database. Other methods panic.
type eventStore struct {
	Store
	e       Event
	waiting []*Registration
	// live is what Registrants.Live returns, in order of registration.
	live []Registration
	msgs []Message
}

func (s *eventStore) UpdateEvent(ctx context.Context, _ uuid.UUID, fn func(*Event, Waitlist, Registrants) ([]Message, error)) (Event, error) {
	e := s.e
	w := &memWaitlist{regs: s.waiting}
	msgs, err := fn(&e, w, memRegistrants(s.live))
	if err != nil {
		return Event{}, err
	}
	s.e, s.msgs = e, msgs
	return e, nil
}

type memWaitlist struct {
	regs []*Registration
	read bool
}

func (w *memWaitlist) First(_ context.Context, n int) ([]*Registration, error) {
	if w.read {
		return nil, errors.New("read twice")
	}
	w.read = true
	return w.regs[:min(n, len(w.regs))], nil
}

// memRegistrants returns copies, as the store's rows are: the update
// sees the registrations it seats through memWaitlist only.
type memRegistrants []Registration

func (r memRegistrants) Live(context.Context) ([]Registration, error) {
	return append([]Registration(nil), r...), nil
}

func ptr[T any](v T) *T { return &v }

func TestUpdateEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	starts := now.Add(48 * time.Hour)
	base := Event{ID: uuid.New(), Title: "Talk", Location: "Hall", StartsAt: starts, EndsAt: starts.Add(2 * time.Hour),
		Capacity: 2, Confirmed: 2, Waitlisted: 3}
	signer, err := managelink.NewSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		event        func(*Event)
		changes      EventChanges
		wantErr      error
		wantField    string
		wantPromoted int
		wantMsgs     int // including promotions; 0 for a change that changes nothing
	}{
		{name: "title only", changes: EventChanges{Title: ptr("New")}, wantMsgs: 2},
		{name: "same title", changes: EventChanges{Title: ptr(" Talk ")}},
		{name: "nothing", changes: EventChanges{}},
		{name: "empty title", changes: EventChanges{Title: ptr("")}, wantField: "title"},
		{name: "capacity zero", changes: EventChanges{Capacity: ptr(0)}, wantField: "capacity"},
		{name: "capacity below confirmed", changes: EventChanges{Capacity: ptr(1)}, wantErr: ErrCapacityBelowConfirmed},
		{name: "capacity raised by two", changes: EventChanges{Capacity: ptr(4)}, wantPromoted: 2, wantMsgs: 4},
		{name: "capacity raised past the waitlist", changes: EventChanges{Capacity: ptr(50)}, wantPromoted: 3, wantMsgs: 5},
		{name: "raised while running: nobody joins", event: func(e *Event) { e.StartsAt = now.Add(-time.Hour) },
			changes: EventChanges{Capacity: ptr(4)}, wantMsgs: 2},
		{name: "ended", event: func(e *Event) { e.StartsAt, e.EndsAt = now.Add(-3*time.Hour), now.Add(-time.Hour) },
			changes: EventChanges{Title: ptr("x")}, wantErr: ErrEventEnded},
		{name: "ends exactly now", event: func(e *Event) { e.StartsAt, e.EndsAt = now.Add(-3*time.Hour), now },
			changes: EventChanges{}, wantErr: ErrEventEnded},
		{name: "start moved into the past", changes: EventChanges{StartsAt: ptr("2030-05-01T10:00:00Z")}, wantField: "starts_at"},
		{name: "start moved past the end", changes: EventChanges{StartsAt: ptr(starts.Add(3 * time.Hour).Format(time.RFC3339))}, wantField: "ends_at"},
		{name: "both moved", changes: EventChanges{StartsAt: ptr(starts.Add(24 * time.Hour).Format(time.RFC3339)),
			EndsAt: ptr(starts.Add(26 * time.Hour).Format(time.RFC3339))}, wantMsgs: 2},
		{name: "end moved into the past of a running event", event: func(e *Event) { e.StartsAt = now.Add(-2 * time.Hour) },
			changes: EventChanges{EndsAt: ptr(now.Add(-time.Hour).Format(time.RFC3339))}, wantField: "ends_at"},
		{name: "end of a running event moved later", event: func(e *Event) { e.StartsAt, e.EndsAt = now.Add(-2*time.Hour), now.Add(time.Hour) },
			changes: EventChanges{EndsAt: ptr(now.Add(2 * time.Hour).Format(time.RFC3339))}, wantMsgs: 2},
		{name: "february 30", changes: EventChanges{EndsAt: ptr("2030-02-30T10:00:00Z")}, wantField: "ends_at"},
		{name: "huge description", changes: EventChanges{Description: ptr(strings.Repeat("x", 5001))}, wantField: "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base
			if tt.event != nil {
				tt.event(&e)
			}
			st := &eventStore{e: e}
			for i := range e.Waitlisted {
				st.waiting = append(st.waiting, &Registration{ID: uuid.New(), EventID: e.ID, Email: "w@example.org",
					Status: RegWaitlisted, WaitlistPosition: i + 1})
			}
			svc := NewService(st, signer, nil, func() time.Time { return now }, Config{PublicBaseURL: "http://x", LinkTTL: time.Hour})
			got, err := svc.UpdateEvent(context.Background(), Actor{ID: "a1", Email: "ada@example.org"}, e.ID, tt.changes)
			var ve *ValidationError
			switch {
			case tt.wantField != "":
				if !errors.As(err, &ve) || ve.Fields[tt.wantField] == "" {
					t.Fatalf("err %v, want a field error on %s", err, tt.wantField)
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if len(st.msgs) != tt.wantMsgs {
				t.Fatalf("%d messages, want %d: %+v", len(st.msgs), tt.wantMsgs, st.msgs)
			}
			promoted := 0
			for _, r := range st.waiting {
				if r.Status == RegConfirmed {
					promoted++
				}
			}
			if promoted != tt.wantPromoted || got.Confirmed != e.Confirmed+promoted || got.Confirmed > got.Capacity ||
				got.Waitlisted != e.Waitlisted-promoted {
				t.Fatalf("promoted %d (want %d); event %+v", promoted, tt.wantPromoted, got)
			}
			for i, r := range st.waiting {
				if (i < promoted) != (r.Status == RegConfirmed) {
					t.Fatalf("promotion out of waitlist order at %d", i)
				}
			}
			if tt.wantMsgs > 0 {
				if st.msgs[0].Type != TypeEventUpdated || st.msgs[1].Type != "audit.events.updated" {
					t.Fatalf("messages %s, %s", st.msgs[0].Type, st.msgs[1].Type)
				}
				if d := st.msgs[0].Data.(EventUpdated); d.Promoted != promoted || len(d.Changes) == 0 || d.UpdatedBy != "ada@example.org" {
					t.Fatalf("event data %+v", d)
				}
			}
		})
	}
}

// TestUpdateEventTellsRegistrants: a new time or place is told to every
// live registration, with its status after the change; other changes
// tell nobody.
func TestUpdateEventTellsRegistrants(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	starts := now.Add(48 * time.Hour)
	base := Event{ID: uuid.New(), Title: "Talk", Location: "Hall", StartsAt: starts, EndsAt: starts.Add(2 * time.Hour),
		Capacity: 2, Confirmed: 2, Waitlisted: 2}
	signer, err := managelink.NewSigner([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	later := starts.Add(24 * time.Hour)
	tests := []struct {
		name    string
		changes EventChanges
		// want lists, in order of registration, "email status position"
		// of each booking.event.rescheduled; none when empty.
		want         []string
		wantStart    time.Time
		wantLocation string
	}{
		{name: "time moved", changes: EventChanges{StartsAt: ptr(later.Format(time.RFC3339)), EndsAt: ptr(later.Add(time.Hour).Format(time.RFC3339))},
			want: []string{"c1 confirmed 0", "w1 waitlisted 1", "c2 confirmed 0", "w2 waitlisted 2"}, wantStart: later, wantLocation: "Hall"},
		{name: "end moved", changes: EventChanges{EndsAt: ptr(starts.Add(3 * time.Hour).Format(time.RFC3339))},
			want: []string{"c1 confirmed 0", "w1 waitlisted 1", "c2 confirmed 0", "w2 waitlisted 2"}, wantStart: starts, wantLocation: "Hall"},
		{name: "place changed", changes: EventChanges{Location: ptr("Room 9")},
			want: []string{"c1 confirmed 0", "w1 waitlisted 1", "c2 confirmed 0", "w2 waitlisted 2"}, wantStart: starts, wantLocation: "Room 9"},
		{name: "place changed and a seat added: the first waiting is told as seated", changes: EventChanges{Location: ptr("Room 9"), Capacity: ptr(3)},
			want: []string{"c1 confirmed 0", "w1 confirmed 0", "c2 confirmed 0", "w2 waitlisted 1"}, wantStart: starts, wantLocation: "Room 9"},
		{name: "title only", changes: EventChanges{Title: ptr("New")}},
		{name: "description only", changes: EventChanges{Description: ptr("More")}},
		{name: "capacity only", changes: EventChanges{Capacity: ptr(3)}},
		{name: "the same place", changes: EventChanges{Location: ptr("Hall")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &eventStore{e: base}
			reg := func(name string, s RegistrationStatus) Registration {
				return Registration{ID: uuid.New(), EventID: base.ID, Email: name + "@example.org", Name: name, Status: s}
			}
			st.live = []Registration{reg("c1", RegConfirmed), reg("w1", RegWaitlisted), reg("c2", RegConfirmed),
				reg("gone", RegCancelled), reg("w2", RegWaitlisted)}
			// In order of registration, as the store returns them; the
			// cancelled one is there to show it is skipped all the same.
			for i := range st.live {
				if st.live[i].Status == RegWaitlisted {
					r := st.live[i]
					st.waiting = append(st.waiting, &r)
				}
			}
			svc := NewService(st, signer, nil, func() time.Time { return now }, Config{PublicBaseURL: "http://x", LinkTTL: time.Hour})
			if _, err := svc.UpdateEvent(context.Background(), Actor{Email: "ada@example.org"}, base.ID, tt.changes); err != nil {
				t.Fatal(err)
			}
			if len(st.msgs) == 0 {
				if len(tt.want) > 0 {
					t.Fatal("no messages")
				}
				return // no change at all
			}
			var got []string
			for i, m := range st.msgs {
				if m.Type != events.TypeEventRescheduled {
					if len(got) > 0 {
						t.Fatalf("%s at %d after the rescheduled events", m.Type, i)
					}
					continue
				}
				d := m.Data.(events.EventRescheduled)
				if d.EventID != base.ID || d.EventTitle != "Talk" || !d.PreviousStartsAt.Equal(starts) ||
					!d.PreviousEndsAt.Equal(base.EndsAt) || d.PreviousLocation != "Hall" || !d.StartsAt.Equal(tt.wantStart) ||
					d.Location != tt.wantLocation || !d.RescheduledAt.Equal(now) || d.Email != d.Name+"@example.org" {
					t.Fatalf("rescheduled %+v", d)
				}
				if !d.ManageExpires.Equal(d.EndsAt.Add(time.Hour)) || d.ManageURL != "" {
					t.Fatalf("manage link expiry %v, url %q", d.ManageExpires, d.ManageURL)
				}
				got = append(got, d.Name+" "+d.Status+" "+strconv.Itoa(d.WaitlistPosition))
			}
			if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
				t.Fatalf("rescheduled %v, want %v", got, tt.want)
			}
			if u := st.msgs[0].Data.(EventUpdated); u.Notified != len(tt.want) {
				t.Fatalf("updated says %d notified, want %d", u.Notified, len(tt.want))
			}
		})
	}
}

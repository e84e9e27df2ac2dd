package events

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestEnvelopeRoundTrip: what New wraps, Decode reads back, and the data
// comes out as it went in; ids sort by creation (UUIDv7).
func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01958f2e-1a00-7000-8000-00000000000a")
	first, err := New("booking", "booking.registration.confirmed", Registration{RegistrationID: id, Email: "a@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := New("booking", "booking.registration.confirmed", Registration{RegistrationID: id})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID.Version() != 7 || strings.Compare(first.ID.String(), second.ID.String()) >= 0 {
		t.Errorf("ids %s then %s, want UUIDv7 in creation order", first.ID, second.ID)
	}
	wire, err := json.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(wire)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != first.ID || got.Type != first.Type || got.Key != RegistrationKey(id) || !got.OccurredAt.Equal(first.OccurredAt) {
		t.Errorf("decoded %+v, want %+v", got, first)
	}
	var data Registration
	if err := got.UnmarshalData(&data); err != nil {
		t.Fatal(err)
	}
	if data.RegistrationID != id || data.Email != "a@example.org" {
		t.Errorf("data %+v", data)
	}
	var wrong []string
	if err := got.UnmarshalData(&wrong); err == nil || !strings.Contains(err.Error(), got.ID.String()) {
		t.Errorf("UnmarshalData into the wrong type = %v, want an error naming the event", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		wire string
	}{
		{name: "not JSON", wire: `{"id":`},
		{name: "no id", wire: `{"type":"x.y","data":{}}`},
		{name: "nil id", wire: `{"id":"00000000-0000-0000-0000-000000000000","type":"x.y"}`},
		{name: "no type", wire: `{"id":"01958f2e-1a00-7000-8000-00000000000a"}`},
		{name: "bad id", wire: `{"id":"nope","type":"x.y"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if ev, err := Decode([]byte(tt.wire)); err == nil {
				t.Errorf("Decode(%s) = %+v, want an error", tt.wire, ev)
			}
		})
	}
}

// TestOrderKey: an event with no aggregate orders with nothing else: its
// own id is its key.
func TestOrderKey(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("01958f2e-1a00-7000-8000-00000000000b")
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{name: "keyed", ev: Event{ID: id, Key: CalendarEventKey(id)}, want: "event:" + id.String()},
		{name: "unkeyed", ev: Event{ID: id}, want: id.String()},
	}
	for _, tt := range tests {
		if got := tt.ev.OrderKey(); got != tt.want {
			t.Errorf("%s: OrderKey() = %q, want %q", tt.name, got, tt.want)
		}
	}
	if _, err := New("x", "x.y", func() {}); err == nil {
		t.Error("New with data JSON cannot encode succeeded")
	}
}

// Package events defines the envelope every domain event travels in
// (DESIGN §4): a UUIDv7 id that doubles as the JetStream Nats-Msg-Id, the
// type (which is also the subject), the source service, the time the change
// happened and the event-specific data.
package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event is the envelope of one domain event.
type Event struct {
	ID         uuid.UUID `json:"id"`
	Type       string    `json:"type"`
	Source     string    `json:"source"`
	OccurredAt time.Time `json:"occurred_at"`
	// Key names the aggregate the event belongs to (a booking, a
	// registration, a job, an export), e.g. "session:0190…". Every
	// consumer applies the events of one key in the order they were
	// written; events of different keys have no order. Empty means the
	// event is an aggregate of its own (see OrderKey).
	Key  string          `json:"key,omitempty"`
	Data json.RawMessage `json:"data"`
}

// Keyed is implemented by event data that belongs to an aggregate: New
// copies its EventKey into the envelope's Key.
type Keyed interface {
	EventKey() string
}

// New wraps data in a fresh envelope. The id is a UUIDv7, so ids sort by
// creation time.
func New(source, typ string, data any) (Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("new event id: %w", err)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s data: %w", typ, err)
	}
	ev := Event{ID: id, Type: typ, Source: source, OccurredAt: time.Now().UTC(), Data: raw}
	if k, ok := data.(Keyed); ok {
		ev.Key = k.EventKey()
	}
	return ev, nil
}

// OrderKey is the key that orders e among other events: its Key, or its
// own id when it has none.
func (e Event) OrderKey() string {
	if e.Key != "" {
		return e.Key
	}
	return e.ID.String()
}

// Subject is the JetStream subject the event is published on: its type.
func (e Event) Subject() string { return e.Type }

// Decode parses an envelope from its wire form and checks the parts every
// consumer relies on.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if e.ID == uuid.Nil || e.Type == "" {
		return Event{}, fmt.Errorf("decode event: missing id or type")
	}
	return e, nil
}

// UnmarshalData decodes the event's data into v.
func (e Event) UnmarshalData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s data of event %s: %w", e.Type, e.ID, err)
	}
	return nil
}

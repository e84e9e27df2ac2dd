package events

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

// FuzzDecode feeds arbitrary message bodies to Decode, as every consumer
// does with what arrives on a stream: a body decodes into an envelope with
// an id and a type that encodes and decodes to itself, or is an error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":"0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11","type":"booking.session.booked","source":"booking","occurred_at":"2030-01-01T00:00:00Z","data":{"a":1}}`,
		`{"id":"00000000-0000-0000-0000-000000000000","type":"x"}`, `{"id":"nope"}`, `{"type":""}`, `null`, `[]`,
		`{"id":"0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11","type":"t","data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := Decode(body)
		if err != nil {
			return
		}
		if e.ID == uuid.Nil || e.Type == "" {
			t.Fatalf("Decode(%q) accepted %+v", body, e)
		}
		again, err := json.Marshal(e)
		if err != nil {
			return // e.g. a time outside years 0–9999 decodes but cannot be re-encoded
		}
		back, err := Decode(again)
		if err != nil || back.ID != e.ID || back.Type != e.Type || back.Source != e.Source {
			t.Fatalf("event %s does not survive a round trip: %v", again, err)
		}
	})
}

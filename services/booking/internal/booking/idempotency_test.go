package booking

import (
	"bytes"
	"strings"
	"testing"
)

// TestIdempotencyKeyDigest: a key is the same key only for the same
// route and client, and its digest never contains the key as sent.
func TestIdempotencyKeyDigest(t *testing.T) {
	base := IdempotencyKey{Key: "form-123", Route: "POST /api/sessions/book", Client: "203.0.113.10"}
	tests := []struct {
		name     string
		other    IdempotencyKey
		wantSame bool
	}{
		{name: "the same request again", other: base, wantSame: true},
		{name: "another client", other: IdempotencyKey{Key: base.Key, Route: base.Route, Client: "198.51.100.7"}},
		{name: "another route", other: IdempotencyKey{Key: base.Key, Route: "POST /api/contact", Client: base.Client}},
		{name: "another key", other: IdempotencyKey{Key: "form-124", Route: base.Route, Client: base.Client}},
		{name: "a boundary moved between client and key",
			other: IdempotencyKey{Key: "0form-123", Route: base.Route, Client: "203.0.113.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if same := bytes.Equal(base.Digest(), tt.other.Digest()); same != tt.wantSame {
				t.Errorf("same digest %v, want %v", same, tt.wantSame)
			}
		})
	}
	if d := base.Digest(); len(d) != 32 || strings.Contains(string(d), base.Key) {
		t.Errorf("digest %x: want 32 bytes without the key", d)
	}
}

package booking

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// FuzzParseCursor feeds arbitrary page cursors from the query string to
// ParseCursor: a cursor parses into one that encodes back to itself or
// is a ValidationError, never a panic.
func FuzzParseCursor(f *testing.F) {
	good := Cursor{At: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), ID: uuid.MustParse("0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11")}.Encode()
	for _, s := range []string{good, "", "x", "fA", "MjAzMA", good + "A", "fHw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseCursor(%q): %v, want a ValidationError", s, err)
			}
			return
		}
		if c == nil {
			if s != "" {
				t.Fatalf("ParseCursor(%q) gave no cursor and no error", s)
			}
			return
		}
		again, err := ParseCursor(c.Encode())
		if err != nil || !again.At.Equal(c.At) || again.ID != c.ID {
			t.Fatalf("cursor %q does not survive a round trip: %v", s, err)
		}
	})
}

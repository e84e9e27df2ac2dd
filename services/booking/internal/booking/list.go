package booking

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Page sizes of every list.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Cursor points just past the last item of a page, in the list's order.
type Cursor struct {
	At time.Time
	ID uuid.UUID
}

// Encode renders the cursor as an opaque URL-safe string.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.At.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

// ParseCursor reads a cursor made by Encode; an empty string is no cursor.
func ParseCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := &ValidationError{Fields: map[string]string{"cursor": "is not a cursor this API handed out"}}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return nil, bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, bad
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, bad
	}
	return &Cursor{At: t, ID: u}, nil
}

// Filter selects and pages a list. Zero fields match everything.
type Filter struct {
	// Status keeps items in this status.
	Status string
	// From (inclusive) and To (exclusive) bound the list's date: creation
	// for submissions, start for events.
	From, To time.Time
	// Limit is the page size, 1 to MaxLimit.
	Limit int
	// After continues a list after this cursor.
	After *Cursor
}

// Page is one page of a list; Next is nil on the last page.
type Page[T any] struct {
	Items []T
	Next  *Cursor
}

// checkFilter normalises f.Limit and checks Status against valid.
func checkFilter(f *Filter, valid func(string) bool) error {
	fields := map[string]string{}
	switch {
	case f.Limit == 0:
		f.Limit = DefaultLimit
	case f.Limit < 0 || f.Limit > MaxLimit:
		fields["limit"] = "must be between 1 and 200"
	}
	if f.Status != "" && !valid(f.Status) {
		fields["status"] = "is not a status of this list"
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		fields["to"] = "must be after from"
	}
	return invalid(fields)
}

// paginate cuts a store result fetched with Limit+1 rows into a page.
func paginate[T any](items []T, limit int, key func(T) Cursor) Page[T] {
	if len(items) <= limit {
		return Page[T]{Items: items}
	}
	items = items[:limit]
	next := key(items[limit-1])
	return Page[T]{Items: items, Next: &next}
}

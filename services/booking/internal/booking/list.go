package booking

import (
	"time"

	"github.com/acube/platform/libs/keyset"
)

// Filter selects and pages a list. Zero fields match everything.
type Filter struct {
	// Status keeps items in this status.
	Status string
	// From (inclusive) and To (exclusive) bound the list's date: creation
	// for submissions, start for events.
	From, To time.Time
	// Limit is the page size, 1 to keyset.MaxLimit.
	Limit int
	// After continues a list after this cursor.
	After *keyset.Cursor
}

// Page is one page of a list; Next is nil on the last page.
type Page[T any] struct {
	Items []T
	Next  *keyset.Cursor
}

// checkFilter normalises f.Limit and checks Status against valid.
func checkFilter(f *Filter, valid func(string) bool) error {
	fields := map[string]string{}
	switch {
	case f.Limit == 0:
		f.Limit = keyset.DefaultLimit
	case f.Limit < 0 || f.Limit > keyset.MaxLimit:
		fields["limit"] = keyset.LimitProblem
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
func paginate[T any](items []T, limit int, key func(T) keyset.Cursor) Page[T] {
	if len(items) <= limit {
		return Page[T]{Items: items}
	}
	items = items[:limit]
	next := key(items[limit-1])
	return Page[T]{Items: items, Next: &next}
}

// Package keyset is the one paging rule of every list of the API (issue
// 14): limit is a whole number from 1 to MaxLimit, DefaultLimit when
// absent; a page carries next_cursor exactly when another follows; a
// limit or cursor the API could not have meant is a 422 naming the
// parameter, never silently the first page (a client would loop on it).
// Lists are ordered by a (time, uuid) key, so a cursor is that key of
// the last item of a page, and the next page is every row past it.
package keyset

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Page sizes of every list; the document's limit parameter says the same.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// The 422 field messages of a bad limit or cursor, for lists that read
// one of them themselves (a list with another kind of cursor).
const (
	LimitProblem  = "must be a whole number from 1 to 200"
	CursorProblem = "must be a next_cursor of this list, unchanged"
)

// ErrBadCursor means a string is not a cursor Encode made.
var ErrBadCursor = errors.New("not a cursor this API returned")

// rawLen is the length of a decoded cursor: 8 bytes of time in Unix
// microseconds (the precision of PostgreSQL's timestamptz, which holds
// every list's time column, so a cursor taken from a row read back from
// the database compares exactly with the row, ties included) and the 16
// bytes of the id. 24 bytes are 32 base64 characters with no padding
// bits, so every cursor has exactly one spelling.
const rawLen = 8 + 16

var encodedLen = base64.RawURLEncoding.EncodedLen(rawLen)

// The times a cursor may hold: the years 1 to 9999, what a list's time
// column can hold and every pgx encoding of them handles. A forged
// cursor outside them is a 422, not a database error.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Cursor is the key of the last item of a page, in the list's order.
type Cursor struct {
	// At is the item's time in the list's order (creation, start…).
	At time.Time
	// ID breaks ties between items of the same time.
	ID uuid.UUID
}

// Encode renders c as an opaque URL-safe string of 32 characters. At is
// kept to the microsecond, the database's precision.
func (c Cursor) Encode() string {
	var b [rawLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.At.UnixMicro()))
	copy(b[8:], c.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Parse reads a cursor Encode made from a row's key; anything else is
// ErrBadCursor: another spelling, a time outside the years 1 to 9999, or
// the nil id, which no row has.
func Parse(s string) (Cursor, error) {
	if len(s) != encodedLen {
		return Cursor{}, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != rawLen {
		return Cursor{}, ErrBadCursor
	}
	at := time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))).UTC()
	id := uuid.UUID(b[8:])
	if at.Before(minTime) || !at.Before(maxTime) || id == uuid.Nil {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{At: at, ID: id}, nil
}

// Query reads limit and cursor from a list's query. An absent limit is
// DefaultLimit; an absent or empty cursor is the first page (nil after),
// since a client may fill the parameter from a missing next_cursor.
// problems holds the 422 field messages, nil when there are none.
func Query(q url.Values) (limit int, after *Cursor, problems map[string]string) {
	limit, problem := Limit(q)
	if problem != "" {
		problems = map[string]string{"limit": problem}
	}
	if s := q.Get("cursor"); s != "" {
		c, err := Parse(s)
		if err != nil {
			if problems == nil {
				problems = map[string]string{}
			}
			problems["cursor"] = CursorProblem
		} else {
			after = &c
		}
	}
	return limit, after, problems
}

// Limit reads limit alone, for a list whose cursor is not a time and an
// id. problem is LimitProblem when the parameter is present but not a
// whole number from 1 to MaxLimit (an empty one included); limit is then
// DefaultLimit.
func Limit(q url.Values) (limit int, problem string) {
	if !q.Has("limit") {
		return DefaultLimit, ""
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > MaxLimit {
		return DefaultLimit, LimitProblem
	}
	return n, ""
}

package audit

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Filter narrows the audit trail; zero fields match everything. These are
// the seed's filters: admin, action, entity and a date range.
type Filter struct {
	// AdminID matches the actor's id exactly (an admin's UUID).
	AdminID string `json:"admin_id,omitempty"`
	// Admin matches the actor's id exactly or its e-mail address ignoring case.
	Admin string `json:"admin,omitempty"`
	// Action matches exactly, e.g. "delete".
	Action string `json:"action,omitempty"`
	// Entity matches exactly, e.g. "session".
	Entity string `json:"entity,omitempty"`
	// From is the first instant included.
	From time.Time `json:"from,omitzero"`
	// To is the first instant excluded.
	To time.Time `json:"to,omitzero"`
}

// FilterInput is a filter as a client sends it: from and to are RFC 3339
// instants or calendar dates (YYYY-MM-DD, UTC); a date in "to" includes
// that whole day.
type FilterInput struct {
	AdminID string
	Admin   string
	Action  string
	Entity  string
	From    string
	To      string
}

// ValidationError lists what is wrong with a request, by field.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for f, msg := range e.Fields {
		parts = append(parts, f+": "+msg)
	}
	return "invalid filter: " + strings.Join(parts, "; ")
}

const maxFilterText = 254

// ParseFilter checks in and returns the filter it describes.
func ParseFilter(in FilterInput) (Filter, error) {
	fields := map[string]string{}
	f := Filter{
		AdminID: strings.TrimSpace(in.AdminID),
		Admin:   text(fields, "admin", in.Admin),
		Action:  text(fields, "action", in.Action),
		Entity:  text(fields, "entity", in.Entity),
	}
	if f.AdminID != "" {
		// The canonical form only, as the document's format: uuid says and
		// as the admin service writes actor ids.
		if id, err := uuid.Parse(f.AdminID); err != nil || len(f.AdminID) != 36 {
			fields["admin_id"] = "must be a UUID"
		} else {
			f.AdminID = id.String()
		}
	}
	var ok bool
	if f.From, ok = instant(in.From, false); !ok {
		fields["from"] = "must be an RFC 3339 time or a date as YYYY-MM-DD"
	}
	if f.To, ok = instant(in.To, true); !ok {
		fields["to"] = "must be an RFC 3339 time or a date as YYYY-MM-DD"
	}
	if _, bad := fields["to"]; !bad && !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		fields["to"] = "must be after from"
	}
	if len(fields) > 0 {
		return Filter{}, &ValidationError{Fields: fields}
	}
	return f, nil
}

func text(fields map[string]string, name, v string) string {
	v = strings.TrimSpace(v)
	switch {
	case !utf8.ValidString(v):
		fields[name] = "must be valid UTF-8"
	case utf8.RuneCountInString(v) > maxFilterText:
		fields[name] = "must be at most 254 characters"
	case strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }):
		fields[name] = "must not contain control characters"
	}
	return v
}

// instant parses an RFC 3339 time or a date; endOfDay moves a date to the
// start of the next day, so "to": "2025-01-31" includes the 31st.
func instant(v string, endOfDay bool) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, v); err != nil {
			return time.Time{}, false
		}
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
	}
	// A filter is stored as JSON, which holds years 0 to 9999 only (an
	// offset can push 0000-01-01T00:00+01:00 into year -1).
	if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

package httpapi

import (
	"maps"
	"net/http"
	"time"

	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/services/booking/internal/booking"
)

// listResponse is one page of any list.
type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func toList[T, R any](p booking.Page[T], conv func(T) R) listResponse[R] {
	out := listResponse[R]{Items: make([]R, 0, len(p.Items))}
	for _, x := range p.Items {
		out.Items = append(out.Items, conv(x))
	}
	if p.Next != nil {
		out.NextCursor = p.Next.Encode()
	}
	return out
}

// parseFilter reads status, from, to, limit and cursor from the query;
// limit and cursor follow the one rule of every list (keyset.Query).
// Dates are RFC 3339 times or YYYY-MM-DD (midnight UTC).
func parseFilter(r *http.Request) (booking.Filter, error) {
	q := r.URL.Query()
	fields := map[string]string{}
	var f booking.Filter
	f.Status = q.Get("status")
	f.From = parseDate(fields, "from", q.Get("from"))
	f.To = parseDate(fields, "to", q.Get("to"))
	var problems map[string]string
	f.Limit, f.After, problems = keyset.Query(q)
	maps.Copy(fields, problems)
	if len(fields) > 0 {
		return booking.Filter{}, &booking.ValidationError{Fields: fields}
	}
	return f, nil
}

func parseDate(fields map[string]string, name, v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil && t.Year() >= 1 && t.Year() <= 9999 {
		return t.UTC()
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t
	}
	fields[name] = "must be YYYY-MM-DD or an RFC 3339 time"
	return time.Time{}
}

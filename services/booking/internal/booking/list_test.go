package booking

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/acube/platform/libs/keyset"
)

// TestListFiltersAreChecked: every admin list refuses a page size out of
// range, a status its items cannot have and an empty date range before it
// reads anything (the service has no store here), naming each field.
func TestListFiltersAreChecked(t *testing.T) {
	t.Parallel()
	svc := NewService(nil, nil, nil, time.Now, Config{})
	day := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	lists := map[string]func(Filter) error{
		"volunteers": func(f Filter) error { _, err := svc.Volunteers(context.Background(), f); return err },
		"contacts":   func(f Filter) error { _, err := svc.Contacts(context.Background(), f); return err },
	}
	tests := []struct {
		name   string
		filter Filter
		field  string
	}{
		{name: "negative limit", filter: Filter{Limit: -1}, field: "limit"},
		{name: "limit above the most", filter: Filter{Limit: keyset.MaxLimit + 1}, field: "limit"},
		{name: "unknown status", filter: Filter{Limit: 10, Status: "confirmed-ish"}, field: "status"},
		{name: "to before from", filter: Filter{From: day, To: day.Add(-time.Hour)}, field: "to"},
		{name: "empty range", filter: Filter{From: day, To: day}, field: "to"},
	}
	for list, call := range lists {
		for _, tt := range tests {
			t.Run(list+"/"+tt.name, func(t *testing.T) {
				var invalid *ValidationError
				err := call(tt.filter)
				if !errors.As(err, &invalid) || invalid.Fields[tt.field] == "" {
					t.Errorf("list with %+v = %v, want a validation error naming %s", tt.filter, err, tt.field)
				}
			})
		}
	}
}

func TestCheckFilterDefaultsTheLimit(t *testing.T) {
	t.Parallel()
	f := Filter{}
	if err := checkFilter(&f, ValidVolunteerStatus); err != nil || f.Limit != keyset.DefaultLimit {
		t.Errorf("checkFilter of an empty filter = %v, limit %d; want nil, %d", err, f.Limit, keyset.DefaultLimit)
	}
}

func TestSubjectEntity(t *testing.T) {
	t.Parallel()
	tests := []struct{ typ, want string }{
		{typ: TypeVolunteerStatus, want: "volunteer"},
		{typ: TypeContactDeleted, want: "contact"},
		{typ: "odd", want: "odd"},
		{typ: "booking.a.b.c", want: "booking.a.b.c"},
	}
	for _, tt := range tests {
		if got := subjectEntity(tt.typ); got != tt.want {
			t.Errorf("subjectEntity(%q) = %q, want %q", tt.typ, got, tt.want)
		}
	}
}

func TestCheckEmailRefusesInvalidUTF8(t *testing.T) {
	t.Parallel()
	fields := map[string]string{}
	checkEmail(fields, "a\xff@example.org")
	if fields["email"] != "must be valid UTF-8" {
		t.Errorf("fields = %v, want email refused as invalid UTF-8", fields)
	}
}

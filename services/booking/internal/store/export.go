package store

import (
	"context"
	"fmt"

	"github.com/acube/platform/services/booking/internal/booking"
)

// ts renders a timestamp column as RFC 3339 in UTC, in SQL, so every
// export column arrives as text and rows stream without per-type code.
func ts(col string) string {
	return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
}

// exportSpec is one entity's CSV: the header and the matching SELECT.
type exportSpec struct {
	header []string
	sql    string
	list   listing
}

func exportOf(entity string) (exportSpec, bool) {
	created := listing{timeCol: "created_at"}
	switch entity {
	case booking.BulkSessions:
		return exportSpec{
			header: []string{"id", "email", "name", "phone", "session_type", "preferred_date", "message", "status", "status_reason", "created_at", "updated_at"},
			sql: `SELECT id::text, email, name, phone, session_type, to_char(preferred_date, 'YYYY-MM-DD'), message, status, status_reason, ` +
				ts("created_at") + `, ` + ts("updated_at") + ` FROM sessions`,
			list: created,
		}, true
	case booking.BulkVolunteers:
		return exportSpec{
			header: []string{"id", "email", "name", "phone", "interests", "availability", "message", "status", "status_reason", "created_at", "updated_at"},
			sql: `SELECT id::text, email, name, phone, interests, availability, message, status, status_reason, ` +
				ts("created_at") + `, ` + ts("updated_at") + ` FROM volunteers`,
			list: created,
		}, true
	case booking.BulkContact:
		return exportSpec{
			header: []string{"id", "email", "name", "phone", "subject", "message", "status", "status_reason", "created_at", "updated_at"},
			sql: `SELECT id::text, email, name, phone, subject, message, status, status_reason, ` +
				ts("created_at") + `, ` + ts("updated_at") + ` FROM contacts`,
			list: created,
		}, true
	case booking.ExportRegistrations:
		// Every event's registrations, with the event's title so the file
		// reads on its own; ordered and filtered by registration time.
		return exportSpec{
			header: []string{"id", "event_id", "event_title", "email", "name", "phone", "status", "cancelled_by", "cancel_reason", "created_at", "updated_at"},
			sql: `SELECT id::text, event_id::text, (SELECT e.title FROM events e WHERE e.id = registrations.event_id), email, name, phone, status, cancelled_by, cancel_reason, ` +
				ts("created_at") + `, ` + ts("updated_at") + ` FROM registrations`,
			list: created,
		}, true
	case booking.BulkEvents:
		return exportSpec{
			header: []string{"id", "title", "description", "location", "starts_at", "ends_at", "capacity", "confirmed", "created_at"},
			sql: `SELECT id::text, title, description, location, ` + ts("starts_at") + `, ` + ts("ends_at") +
				`, capacity::text, confirmed::text, ` + ts("created_at") + ` FROM events`,
			list: listing{timeCol: "starts_at"},
		}, true
	}
	return exportSpec{}, false
}

// Export streams entity's rows to fn as they arrive from the server: pgx
// reads the result row by row, so memory stays flat however many rows.
func (s *Store) Export(ctx context.Context, entity string, f booking.Filter, fn func([]string) error) error {
	spec, ok := exportOf(entity)
	if !ok {
		return fmt.Errorf("%w: entity %q", booking.ErrNotFound, entity)
	}
	if err := fn(spec.header); err != nil {
		return err
	}
	var q query
	rows, err := s.pool.Query(ctx, spec.sql+spec.list.build(&q, f, false), q.args...)
	if err != nil {
		return fmt.Errorf("query %s for export: %w", entity, err)
	}
	defer rows.Close()
	rec := make([]string, len(spec.header))
	dst := make([]any, len(rec))
	for i := range rec {
		dst[i] = &rec[i]
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return fmt.Errorf("read %s row: %w", entity, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s rows: %w", entity, err)
	}
	return nil
}

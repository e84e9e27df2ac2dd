package booking

import (
	"context"
	"fmt"
)

// ExportRegistrations names every event's registrations in one CSV. It is
// not a bulk entity: registrations change through their event's seats,
// never in bulk.
const ExportRegistrations = "registrations"

// ExportEntities are the entities Export streams, in the order the API
// document lists them (its Entity enum; a test holds the two equal).
func ExportEntities() []string {
	return []string{BulkSessions, BulkEvents, ExportRegistrations, BulkVolunteers, BulkContact}
}

// exportStatus says which status filter each exportable entity takes;
// events have none.
func exportStatus(entity string) (func(string) bool, bool) {
	switch entity {
	case BulkSessions:
		return func(v string) bool { _, ok := ParseStatus(v); return ok }, true
	case BulkVolunteers:
		return ValidVolunteerStatus, true
	case BulkContact:
		return ValidContactStatus, true
	case BulkEvents:
		return func(string) bool { return false }, true
	case ExportRegistrations:
		return validRegistrationStatus, true
	}
	return nil, false
}

// Export streams entity's rows that f selects to write, header first, and
// records the export as an admin action. It returns the rows written.
func (s *Service) Export(ctx context.Context, a Actor, entity string, f Filter, write func([]string) error) (int, error) {
	valid, ok := exportStatus(entity)
	if !ok {
		return 0, fmt.Errorf("%w: nothing to export as %q", ErrNotFound, entity)
	}
	f.Limit = 1 // pages do not apply to exports
	if err := checkFilter(&f, valid); err != nil {
		return 0, err
	}
	rows := -1 // the header is not a row
	err := s.store.Export(ctx, entity, f, func(rec []string) error {
		rows++
		return write(rec)
	})
	if err != nil {
		return max(rows, 0), fmt.Errorf("export %s: %w", entity, err)
	}
	filter := map[string]any{"status": f.Status, "from": f.From, "to": f.To}
	msg := audit(a, entity, "exported", "", map[string]any{"rows": rows, "filter": filter}, s.clock())
	if err := s.store.Emit(ctx, []Message{msg}); err != nil {
		return rows, fmt.Errorf("audit export of %s: %w", entity, err)
	}
	return rows, nil
}

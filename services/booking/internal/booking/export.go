package booking

import (
	"context"
	"fmt"
	"slices"
)

// Export streams entity's rows that f selects to write, header first, and
// records the export as an admin action. It returns the rows written.
func (s *Service) Export(ctx context.Context, a Actor, entity string, f Filter, write func([]string) error) (int, error) {
	if !slices.Contains([]string{BulkSessions, BulkVolunteers, BulkContact, BulkEvents}, entity) {
		return 0, fmt.Errorf("%w: nothing to export as %q", ErrNotFound, entity)
	}
	valid := map[string]func(string) bool{
		BulkSessions:   func(v string) bool { _, ok := ParseStatus(v); return ok },
		BulkVolunteers: ValidVolunteerStatus,
		BulkContact:    ValidContactStatus,
		BulkEvents:     func(string) bool { return false },
	}[entity]
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

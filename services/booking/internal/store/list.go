package store

import (
	"strconv"
	"strings"

	"github.com/acube/platform/services/booking/internal/booking"
)

// query builds the filter, cursor and order of a list on top of a
// constant SELECT; only placeholders carry values, never the SQL text.
type query struct {
	conds []string
	args  []any
}

// arg adds a value and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) where(cond string) { q.conds = append(q.conds, cond) }

// listing describes how a table is listed.
type listing struct {
	// timeCol orders the list (with id as tie-break) and takes the date range.
	timeCol string
	// fromCol takes Filter.From when it differs from timeCol.
	fromCol string
	desc    bool
}

// build returns the WHERE ... ORDER BY ... LIMIT tail for f. A zero limit
// means no limit (exports).
func (l listing) build(q *query, f booking.Filter, limit bool) string {
	if f.Status != "" {
		q.where("status = " + q.arg(f.Status))
	}
	if !f.From.IsZero() {
		if l.fromCol != "" {
			q.where(l.fromCol + " > " + q.arg(f.From))
		} else {
			q.where(l.timeCol + " >= " + q.arg(f.From))
		}
	}
	if !f.To.IsZero() {
		q.where(l.timeCol + " < " + q.arg(f.To))
	}
	dir, cmp := "ASC", ">"
	if l.desc {
		dir, cmp = "DESC", "<"
	}
	if f.After != nil && limit {
		q.where("(" + l.timeCol + ", id) " + cmp + " (" + q.arg(f.After.At) + ", " + q.arg(f.After.ID) + ")")
	}
	var b strings.Builder
	if len(q.conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(q.conds, " AND "))
	}
	b.WriteString(" ORDER BY " + l.timeCol + " " + dir + ", id " + dir)
	if limit {
		b.WriteString(" LIMIT " + q.arg(f.Limit))
	}
	return b.String()
}

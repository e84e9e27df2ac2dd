package postgres

import (
	"strconv"
	"strings"
)

// Where builds the WHERE clause of a filtered query from the conditions
// the filter sets, numbering their arguments. Only the conditions added
// appear, so the planner sees plain predicates it can match to indexes
// rather than "($1 IS NULL OR col = $1)". The zero Where has no
// condition.
type Where struct {
	conds []string
	args  []any
}

// Add appends cond, written as a query of its own with its args as $1,
// $2 … (a placeholder may stand more than once); they are renumbered
// after the arguments of the conditions added before.
func (w *Where) Add(cond string, args ...any) {
	w.conds = append(w.conds, renumber(cond, len(w.args)))
	w.args = append(w.args, args...)
}

// Args are the arguments of the conditions, in order; a query that adds
// its own (a LIMIT) numbers them from len(Args())+1.
func (w *Where) Args() []any { return w.args }

// String is the clause, " WHERE c1 AND c2 …", or "" when no condition
// was added.
func (w *Where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// renumber adds offset to the number of every placeholder ($n) of cond.
func renumber(cond string, offset int) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(cond, '$')
		if i < 0 {
			b.WriteString(cond)
			return b.String()
		}
		j := i + 1
		for j < len(cond) && cond[j] >= '0' && cond[j] <= '9' {
			j++
		}
		b.WriteString(cond[:i+1])
		if n, err := strconv.Atoi(cond[i+1 : j]); err == nil {
			b.WriteString(strconv.Itoa(n + offset))
		}
		cond = cond[j:]
	}
}

package postgres_test

import (
	"slices"
	"testing"

	"github.com/acube/platform/libs/postgres"
)

func TestWhere(t *testing.T) {
	t.Parallel()
	type cond struct {
		sql  string
		args []any
	}
	tests := []struct {
		name     string
		conds    []cond
		want     string
		wantArgs []any
	}{
		{name: "none", want: ""},
		{name: "one", conds: []cond{{"action = $1", []any{"login"}}}, want: " WHERE action = $1", wantArgs: []any{"login"}},
		{
			name: "renumbered after the earlier ones",
			conds: []cond{
				{"action = $1", []any{"login"}},
				{"(actor_id = $1 OR lower(actor_email) = lower($1))", []any{"ann"}},
				{"(occurred_at, id) < ($1, $2::uuid)", []any{"t", "id"}},
				{"entity = $1", []any{"job"}},
			},
			want:     " WHERE action = $1 AND (actor_id = $2 OR lower(actor_email) = lower($2)) AND (occurred_at, id) < ($3, $4::uuid) AND entity = $5",
			wantArgs: []any{"login", "ann", "t", "id", "job"},
		},
		{name: "two digits", conds: []cond{{"a = $1", make([]any, 10)[:1]}, {"b = $10", make([]any, 10)}}, want: " WHERE a = $1 AND b = $11", wantArgs: make([]any, 11)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var w postgres.Where
			for _, c := range tt.conds {
				w.Add(c.sql, c.args...)
			}
			if got := w.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := w.Args(); !slices.Equal(got, tt.wantArgs) {
				t.Errorf("Args() = %v, want %v", got, tt.wantArgs)
			}
		})
	}
}

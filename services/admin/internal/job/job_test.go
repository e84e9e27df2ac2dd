package job

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestRequestNormalize(t *testing.T) {
	t.Parallel()
	a, b := uuid.NewString(), uuid.NewString()
	tests := []struct {
		name       string
		action     string
		req        Request
		want       []string
		wantFields []string
	}{
		{name: "delete", action: ActionDelete, req: Request{Entity: "sessions", IDs: []string{a, b}}, want: []string{a, b}},
		{name: "duplicates dropped, order kept", action: ActionDelete, req: Request{Entity: "contact", IDs: []string{b, a, strings.ToUpper(b)}}, want: []string{b, a}},
		{name: "status update", action: ActionStatusUpdate, req: Request{Entity: "volunteers", IDs: []string{a}, Status: "approved"}, want: []string{a}},
		{name: "unknown entity", action: ActionDelete, req: Request{Entity: "admins", IDs: []string{a}}, wantFields: []string{"entity"}},
		{name: "no ids", action: ActionDelete, req: Request{Entity: "events"}, wantFields: []string{"ids"}},
		{name: "too many ids", action: ActionDelete, req: Request{Entity: "events", IDs: []string{a, b, a, b}}, wantFields: []string{"ids"}},
		{name: "not a uuid", action: ActionDelete, req: Request{Entity: "events", IDs: []string{"1 OR 1=1"}}, wantFields: []string{"ids"}},
		{name: "status missing", action: ActionStatusUpdate, req: Request{Entity: "sessions", IDs: []string{a}}, wantFields: []string{"status"}},
		{name: "status not a name", action: ActionStatusUpdate, req: Request{Entity: "contact", IDs: []string{a}, Status: "x'; --"}, wantFields: []string{"status"}},
		{name: "status bogus", action: ActionStatusUpdate, req: Request{Entity: "sessions", IDs: []string{a}, Status: "bogus"}, wantFields: []string{"status"}},
		{name: "status of another entity", action: ActionStatusUpdate, req: Request{Entity: "sessions", IDs: []string{a}, Status: "approved"}, wantFields: []string{"status"}},
		{name: "session status", action: ActionStatusUpdate, req: Request{Entity: "sessions", IDs: []string{a}, Status: "cancelled"}, want: []string{a}},
		{name: "contact status", action: ActionStatusUpdate, req: Request{Entity: "contact", IDs: []string{a}, Status: "archived"}, want: []string{a}},
		{name: "events have no status", action: ActionStatusUpdate, req: Request{Entity: "events", IDs: []string{a}, Status: "approved"}, wantFields: []string{"entity"}},
		{name: "unknown entity, no status", action: ActionStatusUpdate, req: Request{Entity: "admins", IDs: []string{a}}, wantFields: []string{"entity", "status"}},
		{name: "uuid in braces", action: ActionDelete, req: Request{Entity: "events", IDs: []string{"{" + a + "}"}}, wantFields: []string{"ids"}},
		{name: "status on delete", action: ActionDelete, req: Request{Entity: "events", IDs: []string{a}, Status: "gone"}, wantFields: []string{"status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.normalize(tt.action, 3)
			var ve *ValidationError
			if len(tt.wantFields) > 0 {
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a validation error", err)
				}
				for _, f := range tt.wantFields {
					if _, ok := ve.Fields[f]; !ok {
						t.Fatalf("fields = %v, want %s", ve.Fields, f)
					}
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("normalize = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

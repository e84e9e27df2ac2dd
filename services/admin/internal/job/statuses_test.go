package job

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/acube/platform/libs/apispec"
)

// TestStatusesMatchDocument keeps the statuses a bulk update accepts in
// line with the OpenAPI document's status enums of each entity and with
// the request's own enums (BulkStatusRequest): the document is the
// contract, this table only its copy on the admin side.
func TestStatusesMatchDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Enum       []string `json:"enum"`
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(apispec.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc.Components.Schemas
	var union, entities []string
	for _, tt := range []struct{ entity, schema string }{
		{"sessions", "SessionStatus"}, {"volunteers", "VolunteerStatus"}, {"contact", "ContactStatus"}, {"events", ""},
	} {
		var want []string
		if tt.schema != "" {
			want = schemas[tt.schema].Enum
			entities = append(entities, tt.entity)
		}
		if got := Statuses(tt.entity); !slices.Equal(got, want) {
			t.Errorf("Statuses(%s) = %v, document's %s = %v", tt.entity, got, tt.schema, want)
		}
		for _, s := range want {
			if !slices.Contains(union, s) {
				union = append(union, s)
			}
		}
	}
	req := schemas["BulkStatusRequest"].Properties
	if got := req["status"].Enum; !sameSet(got, union) {
		t.Errorf("BulkStatusRequest.status enum = %v, want %v", got, union)
	}
	if got := req["entity"].Enum; !sameSet(got, entities) {
		t.Errorf("BulkStatusRequest.entity enum = %v, want %v", got, entities)
	}
	if got := schemas["BulkEntity"].Enum; !sameSet(got, Entities()) {
		t.Errorf("BulkEntity enum = %v, want %v", got, Entities())
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/apispec"
	"github.com/acube/platform/services/booking/internal/booking"
)

// schemaDoc is the part of the OpenAPI document these tests read.
type schemaDoc struct {
	Components struct {
		Schemas map[string]struct {
			Enum       []string `json:"enum"`
			Properties map[string]struct {
				Type      any    `json:"type"`
				Ref       string `json:"$ref"`
				Format    string `json:"format"`
				Enum      []any  `json:"enum"`
				MaxLength *int   `json:"maxLength"`
			} `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadSchemas(t *testing.T) schemaDoc {
	t.Helper()
	var d schemaDoc
	if err := json.Unmarshal(apispec.Document(), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestExportEntitiesMatchTheDocument: the Entity enum of exportEntity is
// exactly what the server exports.
func TestExportEntitiesMatchTheDocument(t *testing.T) {
	got := loadSchemas(t).Components.Schemas["Entity"].Enum
	if !slices.Equal(got, booking.ExportEntities()) {
		t.Fatalf("document's Entity enum %v, server exports %v", got, booking.ExportEntities())
	}
}

// sized is a valid value of field exactly n characters long.
func sized(field string, n int) string {
	switch field {
	case "email": // a long domain: a long local part is no address
		var b strings.Builder
		b.WriteString("a@")
		for rest := n - len("a@.org"); rest > 0; {
			l := min(rest, 60)
			if rest-l == 1 { // a dot with no label after it
				l--
			}
			if b.Len() > 2 {
				b.WriteByte('.')
				rest--
				l = min(l, rest)
			}
			b.WriteString(strings.Repeat("b", l))
			rest -= l
		}
		return b.String() + ".org"
	case "phone":
		return "123" + strings.Repeat(" ", n-10) + "4567890"
	}
	return strings.Repeat("a", n)
}

// TestIntegrationStringLimitsMatchTheDocument: every string a booking
// request takes has a maxLength in the document, and the server takes a
// value of exactly that length and refuses one character more with 422
// naming the field (issue 14: the two disagreed).
func TestIntegrationStringLimitsMatchTheDocument(t *testing.T) {
	h := newHarness(t)
	doc := loadSchemas(t)
	ev := h.createEvent("Limits", 100000)
	var vol volunteerResponse
	h.do("POST", "/api/volunteers", `{"email":"v@example.org","name":"V"}`).json(t, &vol)
	var msg contactResponse
	h.do("POST", "/api/contact", `{"email":"c@example.org","name":"C","message":"m"}`).json(t, &msg)
	session := func() string {
		var s sessionResponse
		h.do("POST", "/api/sessions/book", bookBody("s@example.org", futureDate(3))).json(t, &s)
		return "/api/sessions/" + s.ID + "/status"
	}
	registration := func() string {
		var x registrationResponse
		h.do("POST", "/api/events/"+ev.ID+"/register", regBody(uuid.NewString()+"@example.org")).json(t, &x)
		return "/api/registrations/" + x.ID + "/cancel"
	}
	fixed := func(p string) func() string { return func() string { return p } }
	tests := []struct {
		schema, method string
		path           func() string
		base           string
		admin          bool
	}{
		{"BookingRequest", "POST", fixed("/api/sessions/book"), bookBody("b@example.org", futureDate(3)), false},
		{"EventRequest", "POST", fixed("/api/events"), eventBody("E", 5, h.clock.Now().Add(72*3600e9)), true},
		{"EventUpdate", "PATCH", fixed("/api/events/" + ev.ID), `{}`, true},
		{"RegistrationRequest", "POST", fixed("/api/events/" + ev.ID + "/register"), regBody("r@example.org"), false},
		{"VolunteerRequest", "POST", fixed("/api/volunteers"), `{"email":"v@example.org","name":"V"}`, false},
		{"ContactRequest", "POST", fixed("/api/contact"), `{"email":"c@example.org","name":"C","message":"m"}`, false},
		{"SessionStatusUpdate", "PATCH", session, `{"status":"confirmed"}`, true},
		{"VolunteerStatusUpdate", "PATCH", fixed("/api/volunteers/" + vol.ID + "/status"), `{"status":"reviewing"}`, true},
		{"ContactStatusUpdate", "PATCH", fixed("/api/contact/" + msg.ID + "/status"), `{"status":"read"}`, true},
		{"RegistrationCancel", "POST", registration, `{}`, true},
	}
	for _, tt := range tests {
		s, ok := doc.Components.Schemas[tt.schema]
		if !ok {
			t.Fatalf("no schema %s", tt.schema)
		}
		for field, p := range s.Properties {
			if p.Type != "string" || p.Format == "date" || p.Format == "date-time" || p.Ref != "" || p.Enum != nil {
				continue
			}
			t.Run(tt.schema+"."+field, func(t *testing.T) {
				if p.MaxLength == nil {
					t.Fatalf("no maxLength in the document")
				}
				send := func(n int) response {
					var body map[string]any
					if err := json.Unmarshal([]byte(tt.base), &body); err != nil {
						t.Fatal(err)
					}
					body[field] = sized(field, n)
					raw, _ := json.Marshal(body)
					if tt.admin {
						return h.asAdmin(tt.method, tt.path(), string(raw))
					}
					return h.do(tt.method, tt.path(), string(raw))
				}
				if res := send(*p.MaxLength); res.status/100 != 2 {
					t.Errorf("%d characters, the document's maxLength: %d %s", *p.MaxLength, res.status, res.body)
				}
				res := send(*p.MaxLength + 1)
				var e struct {
					Fields map[string]string `json:"fields"`
				}
				_ = json.Unmarshal(res.body, &e)
				if res.status != 422 || e.Fields[field] == "" {
					t.Errorf("%d characters: %d %s, want 422 naming %s", *p.MaxLength+1, res.status, res.body, field)
				}
			})
		}
	}
}

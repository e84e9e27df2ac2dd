package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/acube/platform/libs/web/webtest"
	"github.com/acube/platform/services/booking/internal/booking"
)

// TestIntegrationHostileInput sends what an attacker or a broken client
// would, to every public write route: nothing may yield a 500.
func TestIntegrationHostileInput(t *testing.T) {
	h := newHarness(t)
	e := h.createEvent("Hostile", 5)
	huge := strings.Repeat("a", 1<<20)
	date := futureDate(9)
	with := func(field, value string) string {
		m := map[string]string{"email": `"x@example.org"`, "name": `"N"`, "phone": `"1234567"`,
			"session_type": `"individual"`, "preferred_date": `"` + date + `"`, "message": `"m"`}
		m[field] = value
		parts := make([]string, 0, len(m))
		for k, v := range m {
			parts = append(parts, `"`+k+`":`+v)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	tests := []struct {
		name       string
		path       string
		body       string
		wantStatus int
	}{
		{name: "malformed json", path: "/api/sessions/book", body: `{"email":`, wantStatus: 400},
		{name: "not an object", path: "/api/sessions/book", body: `[1,2,3]`, wantStatus: 400},
		{name: "null", path: "/api/sessions/book", body: `null`, wantStatus: 422},
		{name: "unknown field", path: "/api/sessions/book", body: with("admin", "true"), wantStatus: 400},
		{name: "wrong type", path: "/api/sessions/book", body: with("email", "42"), wantStatus: 400},
		{name: "array for string", path: "/api/sessions/book", body: with("name", `["a"]`), wantStatus: 400},
		{name: "1 MiB string", path: "/api/sessions/book", body: with("message", `"`+huge+`"`), wantStatus: 413},
		{name: "too long message", path: "/api/sessions/book", body: with("message", `"`+strings.Repeat("é", 5001)+`"`), wantStatus: 422},
		{name: "sql metacharacters are stored as text", path: "/api/sessions/book", body: with("name", `"Robert'); DROP TABLE sessions;--"`), wantStatus: 201},
		{name: "right-to-left override and emoji", path: "/api/sessions/book", body: with("name", `"\u202eevil \ud83d\ude00"`), wantStatus: 201},
		{name: "nul byte", path: "/api/sessions/book", body: with("name", `"a\u0000b"`), wantStatus: 422},
		{name: "lone surrogate is refused, not stored as U+FFFD", path: "/api/sessions/book", body: with("name", `"\ud800"`), wantStatus: 400},
		{name: "impossible date", path: "/api/sessions/book", body: with("preferred_date", `"2031-02-30"`), wantStatus: 422},
		{name: "year zero", path: "/api/sessions/book", body: with("preferred_date", `"0000-01-01"`), wantStatus: 422},
		{name: "past date", path: "/api/sessions/book", body: with("preferred_date", `"2025-02-01"`), wantStatus: 422},
		{name: "display-name email", path: "/api/sessions/book", body: with("email", `"Eve <eve@example.org>"`), wantStatus: 422},
		{name: "two emails", path: "/api/sessions/book", body: with("email", `"a@example.org, b@example.org"`), wantStatus: 422},
		{name: "header injection in email", path: "/api/sessions/book", body: with("email", `"a@example.org\r\nBcc: x@evil.org"`), wantStatus: 422},
		{name: "phone letters", path: "/api/sessions/book", body: with("phone", `"call me"`), wantStatus: 422},
		{name: "unknown session type", path: "/api/sessions/book", body: with("session_type", `"solo"`), wantStatus: 422},
		{name: "huge number", path: "/api/events/" + e.ID + "/register", body: `{"email":1e400}`, wantStatus: 400},
		{name: "register with unknown field", path: "/api/events/" + e.ID + "/register", body: `{"email":"r@example.org","name":"R","seat":1}`, wantStatus: 400},
		{name: "volunteer empty", path: "/api/volunteers", body: `{}`, wantStatus: 422},
		{name: "contact without message", path: "/api/contact", body: `{"email":"c@example.org","name":"C"}`, wantStatus: 422},
		{name: "contact two objects", path: "/api/contact", body: `{}{}`, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.do("POST", tt.path, tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %.300s", res.status, tt.wantStatus, res.body)
			}
		})
	}
	t.Run("wrong media type", func(t *testing.T) {
		res := h.do("POST", "/api/contact", `email=x`, "Content-Type", "application/x-www-form-urlencoded")
		if res.status != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d", res.status)
		}
	})
	t.Run("overlong idempotency key", func(t *testing.T) {
		res := h.do("POST", "/api/sessions/book", with("name", `"K"`), "Idempotency-Key", strings.Repeat("k", 300))
		if res.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", res.status)
		}
	})
}

// FuzzBookRequest feeds arbitrary bodies through the booking form's
// decoding and validation: every outcome is a booking or a client error.
func FuzzBookRequest(f *testing.F) {
	for _, s := range []string{
		bookBody("a@example.org", "2031-01-01"), `{"email":"x"}`, `{}`, `null`, `[]`, `{"preferred_date":"2031-02-30"}`,
		`{"email":"\u0000@x.org","name":"\ud800"}`, `{"phone":"+1 (555) 123-4567"}`, `{"email":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req bookRequest
		if !webtest.Decode(t, body, maxJSON, &req) {
			return
		}
		_, err := booking.NewSession(booking.BookRequest(req), fixedNow())
		var ve *booking.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("validate %q: %v", body, err)
		}
	})
}

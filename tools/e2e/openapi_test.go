package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/apispec"
	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/tools/internal/stack"
)

// client calls the gateway as a user would; its HTTP client validates
// every exchange against the OpenAPI document (libs/apispec/apitest).
type client struct {
	t     *testing.T
	base  string
	http  *http.Client // apitest.Validator.Client()
	token string
}

// call sends a request through the gateway and checks the status; the
// validating transport checks the exchange against the document. It
// returns the body.
func (c *client) call(method, path, body string, want int) []byte {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, raw)
	}
	return raw
}

func field(t *testing.T, raw []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	s, _ := m[name].(string)
	if s == "" {
		t.Fatalf("no %s in %s", name, raw)
	}
	return s
}

// TestIntegrationResponsesMatchTheOpenAPIDocument drives every built
// endpoint through the gateway, as a client and as an admin, and validates
// each real answer against /api/openapi.json.
func TestIntegrationResponsesMatchTheOpenAPIDocument(t *testing.T) {
	sys := start(t, stack.Services()...)
	if !bytes.Equal(sys.get(t, "/api/openapi.json"), apispec.Document()) {
		t.Fatal("the gateway serves another document than libs/apispec/openapi.json")
	}
	c := &client{t: t, base: sys.gateway, http: apitest.New(t).Client()}

	// Public forms.
	date := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	booked := c.call("POST", "/api/sessions/book", `{"email":"ada@example.com","name":"Ada","phone":"1234567890","session_type":"individual","preferred_date":"`+date+`","message":"hi"}`, 201)
	sessionID := field(t, booked, "id")
	c.call("POST", "/api/sessions/book", `{"email":"not-an-email","name":"","phone":"x","session_type":"solo","preferred_date":"2020-01-01"}`, 422)
	c.call("POST", "/api/sessions/book", `{"email":`, 400)
	c.call("GET", "/api/sessions", "", 401)
	c.call("PATCH", "/api/events/0190a000-0000-7000-8000-000000000001", `{"title":"x"}`, 401)
	c.call("POST", "/api/registrations/0190a000-0000-7000-8000-000000000001/cancel", `{"reason":"x"}`, 401)
	volunteer := c.call("POST", "/api/volunteers", `{"email":"vol@example.com","name":"Vol","phone":"1234567890","interests":"events","availability":"weekends","message":"hello"}`, 201)
	contact := c.call("POST", "/api/contact", `{"email":"c@example.com","name":"C","subject":"Question","message":"hello"}`, 201)
	c.call("GET", "/api/events", "", 200)

	// An admin: created by the bootstrap command, which enrols its TOTP
	// factor, logged in through the gateway in two steps.
	email, password := "root@example.com", "correct horse battery staple"
	secret := sys.bootstrapAdmin(t, email, password)
	step := c.call("POST", "/api/admin/auth/login", `{"email":"`+email+`","password":"`+password+`"}`, 200)
	mfaToken := field(t, step, "mfa_token")
	c.call("POST", "/api/admin/auth/mfa", `{"mfa_token":"`+mfaToken+`","code":"not-a-code"}`, 401)
	c.call("POST", "/api/admin/auth/mfa", `{"mfa_token":"`+mfaToken+`"}`, 422)
	tokens := c.call("POST", "/api/admin/auth/mfa", `{"mfa_token":"`+mfaToken+`","code":"`+totpCode(t, secret, time.Now())+`"}`, 200)
	c.token = field(t, tokens, "access_token")
	c.call("POST", "/api/admin/auth/mfa/enroll", `{"mfa_token":"`+mfaToken+`"}`, 401)
	c.call("POST", "/api/admin/me/totp", "", 409)
	refreshed := c.call("POST", "/api/admin/auth/refresh", `{"refresh_token":"`+field(t, tokens, "refresh_token")+`"}`, 200)
	c.token = field(t, refreshed, "access_token")

	c.call("GET", "/api/sessions", "", 200)
	c.call("GET", "/api/sessions/"+sessionID, "", 200)
	c.call("PATCH", "/api/sessions/"+sessionID+"/status", `{"status":"confirmed","reason":"slot found"}`, 200)
	c.call("PATCH", "/api/sessions/"+sessionID+"/status", `{"status":"pending"}`, 409)
	starts := time.Now().UTC().AddDate(0, 0, 14).Truncate(time.Hour)
	event := c.call("POST", "/api/events", `{"title":"Open day","description":"Meet us","starts_at":"`+starts.Format(time.RFC3339)+`","ends_at":"`+starts.Add(2*time.Hour).Format(time.RFC3339)+`","location":"Hall","capacity":1}`, 201)
	eventID := field(t, event, "id")
	c.call("GET", "/api/events/"+eventID, "", 200)
	reg1 := c.call("POST", "/api/events/"+eventID+"/register", `{"email":"r1@example.com","name":"R1"}`, 201)
	c.call("POST", "/api/events/"+eventID+"/register", `{"email":"r2@example.com","name":"R2"}`, 201)
	c.call("POST", "/api/events/"+eventID+"/register", `{"email":"r1@example.com","name":"R1"}`, 201) // answered as a new address (issue 13)
	c.call("GET", "/api/events/"+eventID+"/registrations", "", 200)
	// An admin changes the event: a raised capacity seats r2 from the waitlist.
	c.call("PATCH", "/api/events/"+eventID, `{"capacity":2,"location":"Hall B"}`, 200)
	c.call("PATCH", "/api/events/"+eventID, `{"capacity":1}`, 409)
	c.call("PATCH", "/api/events/"+eventID, `{"capacity":0,"title":""}`, 422)
	c.call("PATCH", "/api/events/"+eventID, `{"seats":3}`, 400)
	c.call("PATCH", "/api/events/0190a000-0000-7000-8000-000000000001", `{"title":"x"}`, 404)
	// and cancels a registration on someone's behalf.
	reg1Cancel := "/api/registrations/" + field(t, reg1, "id") + "/cancel"
	c.call("POST", reg1Cancel, `{"reason":"asked us by phone"}`, 200)
	c.call("POST", reg1Cancel, "", 409)
	c.call("POST", reg1Cancel+"?token=forged", "", 403)
	c.call("GET", "/api/volunteers", "", 200)
	c.call("PATCH", "/api/volunteers/"+field(t, volunteer, "id")+"/status", `{"status":"approved"}`, 200)
	c.call("GET", "/api/contact", "", 200)
	c.call("PATCH", "/api/contact/"+field(t, contact, "id")+"/status", `{"status":"read"}`, 200)

	c.call("GET", "/api/admin/admins", "", 200)
	// A second admin: invited, and the invitee chooses the password
	// through the link in the email.
	c.call("POST", "/api/admin/admins", `{"email":"second@example.com","name":"Second","password":"chosen by root","role":"admin"}`, 400)
	second := field(t, c.call("POST", "/api/admin/admins", `{"email":"second@example.com","name":"Second","role":"admin"}`, 201), "id")
	invitation := sys.invitationToken(t, "second@example.com")
	c.call("POST", "/api/admin/invitations/accept", `{"token":"forged","password":"another long passphrase"}`, 400)
	c.call("POST", "/api/admin/invitations/accept", `{"token":"`+invitation+`","password":"password1234"}`, 422)
	c.call("POST", "/api/admin/invitations/accept", `{"token":"`+invitation+`","password":"another long passphrase"}`, 204)
	c.call("POST", "/api/admin/invitations/accept", `{"token":"`+invitation+`","password":"another long passphrase"}`, 410)
	c.call("POST", "/api/admin/admins/"+second+"/invitation", "", 409)
	super := c.token
	c.token = field(t, c.call("POST", "/api/admin/auth/login", `{"email":"second@example.com","password":"another long passphrase"}`, 200), "access_token")
	c.call("POST", "/api/admin/me/password", `{"current_password":"another long passphrase","new_password":"password1234"}`, 422)
	c.call("POST", "/api/admin/me/password", `{"current_password":"another long passphrase","new_password":"a different passphrase"}`, 204)
	enrolment := c.call("POST", "/api/admin/me/totp", "", 200)
	c.call("POST", "/api/admin/me/totp/confirm", `{"code":"000000x"}`, 422)
	c.call("POST", "/api/admin/me/totp/confirm", `{"code":"`+totpCode(t, field(t, enrolment, "secret"), time.Now())+`"}`, 200)
	c.token = super
	c.call("POST", "/api/admin/admins/"+second+"/totp/reset", "", 200)
	c.call("POST", "/api/admin/admins/"+second+"/disable", "", 200)
	job := c.call("POST", "/api/admin/bulk/status-update", `{"entity":"sessions","ids":["`+sessionID+`"],"status":"completed"}`, 200)
	c.call("GET", "/api/admin/jobs/"+field(t, job, "id"), "", 200)
	c.call("GET", "/api/admin/audit-logs", "", 200)
	export := c.call("POST", "/api/admin/bulk/export/audit-logs", `{}`, 202)
	// Validate the export's status while it runs and once it is done.
	exportURL := "/api/admin/exports/" + field(t, export, "export_id")
	testkit.Eventually(t, "the audit export to complete", func() bool {
		return field(t, c.call("GET", exportURL, "", 200), "status") == "completed"
	}, testkit.Interval(100*time.Millisecond))
	c.call("GET", "/api/admin/exports", "", 200)
	c.call("GET", "/api/admin/dead-letters", "", 200)
}

// get fetches a path through the gateway.
func (s *system) get(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := s.http.Get(s.gateway + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return b
}

package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// seeder makes, through the gateway as a client and an admin would, the
// records the tester's requests name, and collects their ids and tokens
// as the tester's variables.
type seeder struct {
	sys  *stack.System
	http *http.Client
	vars map[string]string
}

// seed creates what every operation needs (docs/contract.md, "Data"):
// returns the variables the Portman collection's requests use.
func seed(ctx context.Context, sys *stack.System) (map[string]string, error) {
	s := &seeder{sys: sys, http: &http.Client{Timeout: 30 * time.Second}, vars: map[string]string{"baseUrl": sys.Gateway}}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"superadmin", s.superadmin},
		{"public records", s.public},
		{"event", s.event},
		{"admins", s.admins},
		{"job and export", s.jobAndExport},
		{"manage links", s.manageLinks},
		{"dead letters", s.deadLetters},
	}
	for _, st := range steps {
		if err := st.fn(ctx); err != nil {
			return nil, fmt.Errorf("seed %s: %w", st.name, err)
		}
	}
	return s.vars, nil
}

// call sends a JSON request (body "" for none) through the gateway with
// the bearer token (or none) and wants status; it returns the answer.
func (s *seeder) call(ctx context.Context, method, path, token, body string, want int) (map[string]any, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.sys.Gateway+path, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, resp.StatusCode, want, raw)
	}
	m := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s %s: decode %.200s: %w", method, path, raw, err)
		}
	}
	return m, nil
}

// str is m's field name as a string ("" when missing); numbers are
// written as integers.
func str(m map[string]any, name string) string {
	switch v := m[name].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatInt(int64(v), 10)
	}
	return ""
}

// need is m's field name, an error when missing.
func need(m map[string]any, name string) (string, error) {
	if v := str(m, name); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("no %s in %v", name, m)
}

const (
	superEmail = "root@example.com"
	// password of every admin of the run: nobody else knows it, the
	// database is dropped afterwards.
	password = "contract run passphrase"
)

// superadmin bootstraps the first superadmin as an operator does and
// logs it in three times: with a TOTP code (accessToken, refreshToken,
// used by most requests), with a recovery code (logoutToken, whose
// session logout ends) and up to the second step only (mfaToken, which
// loginMFA completes with recoveryCode).
func (s *seeder) superadmin(ctx context.Context) error {
	e, err := adminflow.Bootstrap(ctx, filepath.Join(s.sys.Bin, "admin"), s.sys.EnvOf("admin"), superEmail, "Root", password)
	if err != nil {
		return err
	}
	if len(e.RecoveryCodes) < 2 {
		return fmt.Errorf("bootstrap printed %d recovery codes, want 2 or more", len(e.RecoveryCodes))
	}
	s.vars["superEmail"], s.vars["superPassword"] = superEmail, password
	login := `{"email":"` + superEmail + `","password":"` + password + `"}`
	second := func(proof string) (map[string]any, error) {
		step, err := s.call(ctx, "POST", "/api/admin/auth/login", "", login, 200)
		if err != nil {
			return nil, err
		}
		mfa, err := need(step, "mfa_token")
		if err != nil {
			return nil, err
		}
		return s.call(ctx, "POST", "/api/admin/auth/mfa", "", `{"mfa_token":"`+mfa+`",`+proof+`}`, 200)
	}
	code, err := adminflow.Code(e.Secret, time.Now())
	if err != nil {
		return err
	}
	tokens, err := second(`"code":"` + code + `"`)
	if err != nil {
		return err
	}
	if s.vars["accessToken"], err = need(tokens, "access_token"); err != nil {
		return err
	}
	s.vars["refreshToken"] = str(tokens, "refresh_token")
	tokens, err = second(`"recovery_code":"` + e.RecoveryCodes[0] + `"`)
	if err != nil {
		return err
	}
	s.vars["logoutToken"], s.vars["logoutRefreshToken"] = str(tokens, "access_token"), str(tokens, "refresh_token")
	step, err := s.call(ctx, "POST", "/api/admin/auth/login", "", login, 200)
	if err != nil {
		return err
	}
	s.vars["mfaToken"], s.vars["recoveryCode"] = str(step, "mfa_token"), e.RecoveryCodes[1]
	return nil
}

// public sends the public forms: a booking (sessionId), a volunteer
// application (volunteerId), two contact messages (contactId, and
// deleteContactId for bulk delete).
func (s *seeder) public(ctx context.Context) error {
	b, err := s.call(ctx, "POST", "/api/sessions/book", "", booking("ada@example.com"), 201)
	if err != nil {
		return err
	}
	s.vars["sessionId"] = str(b, "id")
	v, err := s.call(ctx, "POST", "/api/volunteers", "", `{"email":"vol@example.com","name":"Vol","phone":"1234567890","interests":"events","availability":"weekends","message":"hello"}`, 201)
	if err != nil {
		return err
	}
	s.vars["volunteerId"] = str(v, "id")
	for _, k := range []string{"contactId", "deleteContactId"} {
		c, err := s.call(ctx, "POST", "/api/contact", "", `{"email":"c@example.com","name":"C","subject":"Question","message":"hello"}`, 201)
		if err != nil {
			return err
		}
		s.vars[k] = str(c, "id")
	}
	return nil
}

// booking is a valid booking request for email, a month ahead.
func booking(email string) string {
	date := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	return `{"email":"` + email + `","name":"Ada","phone":"1234567890","session_type":"individual","preferred_date":"` + date + `","message":"hi"}`
}

// event creates an event two weeks ahead (eventId, its start and end as
// eventStartsAt/eventEndsAt) with room for every registration of the run.
func (s *seeder) event(ctx context.Context) error {
	starts := time.Now().UTC().AddDate(0, 0, 14).Truncate(time.Hour)
	s.vars["eventStartsAt"], s.vars["eventEndsAt"] = starts.Format(time.RFC3339), starts.Add(2*time.Hour).Format(time.RFC3339)
	ev, err := s.call(ctx, "POST", "/api/events", s.vars["accessToken"], `{"title":"Open day","description":"Meet us","starts_at":"`+s.vars["eventStartsAt"]+`","ends_at":"`+s.vars["eventEndsAt"]+`","location":"Hall","capacity":50}`, 201)
	if err != nil {
		return err
	}
	s.vars["eventId"] = str(ev, "id")
	return nil
}

// admins invites four admins through the API: enrolId (a superadmin who
// accepted and whose login must enrol TOTP: enrollMfaToken), inviteeId
// (invited, for acceptInvitation: invitationToken), adminId (an admin
// who accepted and is logged in: adminToken; TOTP, password change,
// reset and disable act on it) and pendingId (invited, never accepted:
// reinviteAdmin); two more are invited for the error paths of
// acceptInvitation (spareInvitationToken) and the invitation page
// (pageInvitationToken).
func (s *seeder) admins(ctx context.Context) error {
	tok := s.vars["accessToken"]
	invite := func(email, role string) (id, token string, err error) {
		a, err := s.call(ctx, "POST", "/api/admin/admins", tok, `{"email":"`+email+`","name":"Invitee","role":"`+role+`"}`, 201)
		if err != nil {
			return "", "", err
		}
		token, err = s.invitation(ctx, email)
		return str(a, "id"), token, err
	}
	accept := func(token string) error {
		_, err := s.call(ctx, "POST", "/api/admin/invitations/accept", "", `{"token":"`+token+`","password":"`+password+`"}`, 204)
		return err
	}
	login := func(email string) (map[string]any, error) {
		return s.call(ctx, "POST", "/api/admin/auth/login", "", `{"email":"`+email+`","password":"`+password+`"}`, 200)
	}

	id, token, err := invite("enrol@example.com", "superadmin")
	if err != nil {
		return err
	}
	if err := accept(token); err != nil {
		return err
	}
	step, err := login("enrol@example.com")
	if err != nil {
		return err
	}
	s.vars["enrolId"], s.vars["enrollMfaToken"] = id, str(step, "mfa_token")

	if s.vars["inviteeId"], s.vars["invitationToken"], err = invite("invitee@example.com", "admin"); err != nil {
		return err
	}

	if id, token, err = invite("admin@example.com", "admin"); err != nil {
		return err
	}
	if err := accept(token); err != nil {
		return err
	}
	tokens, err := login("admin@example.com")
	if err != nil {
		return err
	}
	s.vars["adminId"], s.vars["adminPassword"] = id, password
	if s.vars["adminToken"], err = need(tokens, "access_token"); err != nil {
		return err
	}

	if s.vars["pendingId"], _, err = invite("pending@example.com", "admin"); err != nil {
		return err
	}
	if _, s.vars["spareInvitationToken"], err = invite("spare-invitee@example.com", "admin"); err != nil {
		return err
	}
	_, s.vars["pageInvitationToken"], err = invite("page-invitee@example.com", "admin")
	return err
}

// invitation waits for the invitation email to address and returns its
// link's token.
func (s *seeder) invitation(ctx context.Context, address string) (string, error) {
	var token string
	err := s.await(ctx, "an invitation email to "+address, func() (bool, error) {
		texts, err := chaos.Sink{S: s.sys.Sink}.Texts(ctx, address)
		for _, t := range texts {
			if tk, ok := adminflow.InvitationToken(t); ok {
				token = tk
				return true, nil
			}
		}
		return false, err
	})
	return token, err
}

// await polls done every 100 ms for up to a minute.
func (s *seeder) await(ctx context.Context, what string, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// jobAndExport runs a bulk job (jobId) and an audit-log export to its
// end (exportId).
func (s *seeder) jobAndExport(ctx context.Context) error {
	tok := s.vars["accessToken"]
	job, err := s.call(ctx, "POST", "/api/admin/bulk/status-update", tok, `{"entity":"volunteers","ids":["`+s.vars["volunteerId"]+`"],"status":"reviewing"}`, 200)
	if err != nil {
		// The target status is whatever the document's enum allows first;
		// an error here names the request to fix.
		return err
	}
	s.vars["jobId"] = str(job, "id")
	exp, err := s.call(ctx, "POST", "/api/admin/bulk/export/audit-logs", tok, `{}`, 202)
	if err != nil {
		return err
	}
	id, err := need(exp, "export_id")
	if err != nil {
		return err
	}
	s.vars["exportId"] = id
	return s.await(ctx, "export "+id, func() (bool, error) {
		e, err := s.call(ctx, "GET", "/api/admin/exports/"+id, tok, "", 200)
		return str(e, "status") == "completed", err
	})
}

// manageToken matches the token of a manage link.
var manageToken = regexp.MustCompile(`[?&]token=([A-Za-z0-9_.~%-]+)`)

// manageLinks books a second session (cancelSessionId) and registers for
// the event twice (registrationId, cancelled by the happy path;
// spareRegistrationId, for its error paths), and takes the manage tokens
// from their confirmation emails (cancelSessionToken, registrationToken,
// spareRegistrationToken), and a booking and a registration for the
// manage pages (pageSessionId/Token, pageRegistrationId/Token).
func (s *seeder) manageLinks(ctx context.Context) error {
	b, err := s.call(ctx, "POST", "/api/sessions/book", "", booking("cancel@example.com"), 201)
	if err != nil {
		return err
	}
	s.vars["cancelSessionId"] = str(b, "id")
	if s.vars["cancelSessionToken"], err = s.linkToken(ctx, "cancel@example.com", s.vars["cancelSessionId"]); err != nil {
		return err
	}
	r, err := s.call(ctx, "POST", "/api/events/"+s.vars["eventId"]+"/register", "", `{"email":"reg@example.com","name":"Reg"}`, 201)
	if err != nil {
		return err
	}
	s.vars["registrationId"] = str(r, "id")
	if s.vars["registrationToken"], err = s.linkToken(ctx, "reg@example.com", s.vars["registrationId"]); err != nil {
		return err
	}
	r, err = s.call(ctx, "POST", "/api/events/"+s.vars["eventId"]+"/register", "", `{"email":"spare@example.com","name":"Spare"}`, 201)
	if err != nil {
		return err
	}
	s.vars["spareRegistrationId"] = str(r, "id")
	if s.vars["spareRegistrationToken"], err = s.linkToken(ctx, "spare@example.com", s.vars["spareRegistrationId"]); err != nil {
		return err
	}
	// The people's pages (GET the manage page, GET the confirmation,
	// POST the cancel form) on records of their own.
	b, err = s.call(ctx, "POST", "/api/sessions/book", "", booking("page@example.com"), 201)
	if err != nil {
		return err
	}
	s.vars["pageSessionId"] = str(b, "id")
	if s.vars["pageSessionToken"], err = s.linkToken(ctx, "page@example.com", s.vars["pageSessionId"]); err != nil {
		return err
	}
	r, err = s.call(ctx, "POST", "/api/events/"+s.vars["eventId"]+"/register", "", `{"email":"page-reg@example.com","name":"Page"}`, 201)
	if err != nil {
		return err
	}
	s.vars["pageRegistrationId"] = str(r, "id")
	s.vars["pageRegistrationToken"], err = s.linkToken(ctx, "page-reg@example.com", s.vars["pageRegistrationId"])
	return err
}

// linkToken waits for an email to address with a link naming id and
// returns the link's token.
func (s *seeder) linkToken(ctx context.Context, address, id string) (string, error) {
	var token string
	err := s.await(ctx, "a manage link to "+address, func() (bool, error) {
		texts, err := chaos.Sink{S: s.sys.Sink}.Texts(ctx, address)
		for _, t := range texts {
			for f := range strings.FieldsSeq(t) {
				if m := manageToken.FindStringSubmatch(f); m != nil && strings.Contains(f, id) {
					token = m[1]
					return true, nil
				}
			}
		}
		return false, err
	})
	return token, err
}

// deadLetters books two sessions for the address the sink refuses and
// waits for their confirmations to be dead-lettered (deadLetterSeq, read
// and discarded; replaySeq, replayed).
func (s *seeder) deadLetters(ctx context.Context) error {
	for range 2 {
		if _, err := s.call(ctx, "POST", "/api/sessions/book", "", booking(DeadAddress), 201); err != nil {
			return err
		}
	}
	var seqs []string
	err := s.await(ctx, "two dead letters", func() (bool, error) {
		page, err := s.call(ctx, "GET", "/api/admin/dead-letters", s.vars["accessToken"], "", 200)
		if err != nil {
			return false, err
		}
		seqs = seqs[:0]
		for _, v := range page {
			items, _ := v.([]any)
			for _, it := range items {
				if m, ok := it.(map[string]any); ok && str(m, "seq") != "" {
					seqs = append(seqs, str(m, "seq"))
				}
			}
		}
		return len(seqs) >= 2, nil
	})
	if err != nil {
		return err
	}
	s.vars["deadLetterSeq"], s.vars["replaySeq"] = seqs[0], seqs[1]
	return nil
}

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox/outboxtest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/services/admin/internal/totp"
)

// The tests of issue 13's findings 1 to 3 against the running service:
// each fails on the code before the fix (noted per test).

func (h *harness) refresh(tok string) reply {
	h.t.Helper()
	return h.do("POST", "/api/admin/auth/refresh", "", map[string]string{"refresh_token": tok}, "")
}

// revocations returns the admin.sessions.revoked events in the outbox.
func (h *harness) revocations() []events.SessionsRevoked {
	h.t.Helper()
	return outboxtest.Data[events.SessionsRevoked](h.t, outboxtest.Events(h.t, h.pool, events.TypeSessionsRevoked))
}

// Finding 1, outside the grace period: the spent token revokes its whole
// family, and the family's access tokens are refused at once.
func TestIntegrationRefreshReuseAfterGraceRevokesTheFamily(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"ADMIN_REFRESH_GRACE": "0s"})
	h.bootstrap("root@example.org")
	s := h.login("root@example.org", rootPassword, "")
	r := h.refresh(s.RefreshToken)
	if r.status != 200 {
		t.Fatalf("refresh = %d %s", r.status, r.body)
	}
	var s2 session
	r.json(t, &s2)
	if r := h.refresh(s.RefreshToken); r.status != 401 {
		t.Fatalf("reuse after grace = %d %s, want 401", r.status, r.body)
	}
	if r := h.refresh(s2.RefreshToken); r.status != 401 {
		t.Fatalf("successor after reuse = %d, want 401", r.status)
	}
	if r := h.do("GET", "/api/admin/me", s2.AccessToken, nil, ""); r.status != 401 {
		t.Fatalf("access token of the revoked family = %d, want 401", r.status)
	}
	revs := h.revocations()
	if len(revs) != 1 || revs[0].Reason != events.RevokeReasonRefreshReuse || revs[0].SessionID == "" ||
		revs[0].AdminID.String() != s.Admin.ID {
		t.Fatalf("revocation events = %+v", revs)
	}
}

// Finding 1, concurrency: eight refreshes with one token, at once; exactly
// one gets tokens (it used to be all eight), and its session goes on.
func TestIntegrationConcurrentRefreshesWithOneToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	s := h.login("root@example.org", rootPassword, "")
	const n = 8
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		statuses = make([]int, n)
		winners  = make([]session, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			r := h.refresh(s.RefreshToken)
			statuses[i] = r.status
			if r.status == 200 {
				r.json(t, &winners[i])
			}
		})
	}
	close(start)
	wg.Wait()
	var ok []session
	for i, st := range statuses {
		switch st {
		case 200:
			ok = append(ok, winners[i])
		case 401:
		default:
			t.Fatalf("refresh %d = %d", i, st)
		}
	}
	if len(ok) != 1 {
		t.Fatalf("%d of %d concurrent refreshes got tokens (%v), want exactly 1", len(ok), n, statuses)
	}
	if r := h.refresh(ok[0].RefreshToken); r.status != 200 {
		t.Fatalf("the winner's refresh token = %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/api/admin/me", ok[0].AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("the winner's access token = %d", r.status)
	}
}

// Finding 2 (the issuing side): a disabled superadmin's token is refused
// at once, before it expires; it cannot create a superadmin. Every
// other service learns it from admin.sessions.revoked.
func TestIntegrationDisabledAdminIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	eveID := h.createAdmin(root.AccessToken, "eve@example.org", "superadmin", "a superadmin passphrase")
	eve := h.login("eve@example.org", "a superadmin passphrase", "")
	if r := h.do("GET", "/api/admin/admins", eve.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("eve lists admins = %d %s", r.status, r.body)
	}

	if r := h.do("POST", "/api/admin/admins/"+eveID+"/disable", root.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("disable eve = %d %s", r.status, r.body)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/admin/me"}, {"GET", "/api/admin/admins"}, {"GET", "/api/admin/audit-logs"},
		{"POST", "/api/admin/admins"}, {"POST", "/api/admin/me/totp"},
	} {
		var body any
		if c.path == "/api/admin/admins" && c.method == "POST" {
			body = map[string]string{"email": "mallory@example.org", "name": "Mallory", "role": "superadmin"}
		}
		r := h.do(c.method, c.path, eve.AccessToken, body, "")
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%s %s with a disabled superadmin's token = %d %s, want 401", c.method, c.path, r.status, r.body)
		}
	}
	if n := h.countRows(`SELECT count(*) FROM accounts WHERE email = 'mallory@example.org'`); n != 0 {
		t.Fatal("a disabled superadmin created an admin")
	}
	if r := h.refresh(eve.RefreshToken); r.status != 401 {
		t.Fatalf("disabled refresh = %d", r.status)
	}
	revs := h.revocations()
	if len(revs) != 1 || revs[0].AdminID.String() != eveID || revs[0].SessionID != "" ||
		revs[0].Reason != events.RevokeReasonDisabled || revs[0].NotBefore.IsZero() {
		t.Fatalf("revocation events = %+v", revs)
	}
	// Root's own session is untouched.
	if r := h.do("GET", "/api/admin/me", root.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("root after disabling eve = %d", r.status)
	}
}

// Finding 2: a logged-out session's access token is refused at once; the
// admin's other sessions are not.
func TestIntegrationLogoutRefusesTheAccessTokenAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	h.createAdmin(root.AccessToken, "ada@example.org", "admin", "analytical engine")
	a1 := h.login("ada@example.org", "analytical engine", "")
	a2 := h.login("ada@example.org", "analytical engine", "")
	if r := h.do("POST", "/api/admin/auth/logout", "", map[string]string{"refresh_token": a1.RefreshToken}, ""); r.status != 204 {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	for _, path := range []string{"/api/admin/me", "/api/admin/audit-logs", "/api/admin/jobs/0190a000-0000-7000-8000-000000000001"} {
		if r := h.do("GET", path, a1.AccessToken, nil, ""); r.status != 401 {
			t.Errorf("GET %s after logout = %d %s, want 401", path, r.status, r.body)
		}
	}
	if r := h.do("GET", "/api/admin/me", a2.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("the other session after logout = %d", r.status)
	}
	revs := h.revocations()
	if len(revs) != 1 || revs[0].Reason != events.RevokeReasonLogout || revs[0].SessionID == "" {
		t.Fatalf("revocation events = %+v", revs)
	}
}

func (h *harness) countRows(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// Finding 3: a superadmin invites; only the invitee, through a single-use
// link valid 24 hours, chooses the password.
func TestIntegrationInvitation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	accept := func(token, pw string) reply {
		return h.do("POST", "/api/admin/invitations/accept", "", map[string]string{"token": token, "password": pw}, "")
	}

	// The superadmin can no longer choose a password.
	r := h.do("POST", "/api/admin/admins", root.AccessToken,
		map[string]string{"email": "ada@example.org", "name": "Ada", "role": "admin", "password": "chosen by root!"}, "")
	if r.status != 400 || !strings.Contains(string(r.body), `"password"`) {
		t.Fatalf("create with a password = %d %s, want 400 naming password", r.status, r.body)
	}
	r = h.do("POST", "/api/admin/admins", root.AccessToken, map[string]string{"email": "ada@example.org", "name": "Ada", "role": "admin"}, "")
	var created struct {
		ID                  string    `json:"id"`
		Status              string    `json:"status"`
		InvitationExpiresAt time.Time `json:"invitation_expires_at"`
	}
	r.json(t, &created)
	if r.status != 201 || created.Status != "invited" || time.Until(created.InvitationExpiresAt) > 24*time.Hour ||
		time.Until(created.InvitationExpiresAt) < 23*time.Hour {
		t.Fatalf("invite = %d %s", r.status, r.body)
	}
	tok := h.invitation("ada@example.org")

	// Nobody logs in to an invited account, whatever the password.
	if r := h.do("POST", "/api/admin/auth/login", "", map[string]string{"email": "ada@example.org", "password": "anything at all"}, ""); r.status != 401 {
		t.Fatalf("login before accepting = %d", r.status)
	}
	tests := []struct {
		name       string
		token, pw  string
		wantStatus int
		wantInBody string
	}{
		{name: "no token", pw: "analytical engine", wantStatus: 422, wantInBody: `"token"`},
		{name: "unknown token", token: "not-a-token", pw: "analytical engine", wantStatus: 400, wantInBody: `"token"`},
		{name: "common password", token: tok, pw: "Password1234", wantStatus: 422, wantInBody: "too common"},
		{name: "short password", token: tok, pw: "short", wantStatus: 422, wantInBody: "at least 12"},
		{name: "the email in it", token: tok, pw: "i am ada@example.org", wantStatus: 422, wantInBody: "email address or name"},
		{name: "accepted", token: tok, pw: "analytical engine", wantStatus: 204},
		{name: "used twice", token: tok, pw: "analytical engine 2", wantStatus: 410, wantInBody: "used already"},
	}
	for _, tt := range tests {
		r := accept(tt.token, tt.pw)
		if r.status != tt.wantStatus || !strings.Contains(string(r.body), tt.wantInBody) {
			t.Fatalf("%s: accept = %d %s, want %d with %s", tt.name, r.status, r.body, tt.wantStatus, tt.wantInBody)
		}
	}
	ada := h.login("ada@example.org", "analytical engine", "")
	if ada.Admin.Role != "admin" {
		t.Fatalf("ada = %+v", ada)
	}

	// An expired invitation is refused; a new one replaces it.
	bobID := h.invite(root.AccessToken, "bob@example.org", "admin")
	old := h.invitation("bob@example.org")
	if _, err := h.pool.Exec(context.Background(), `UPDATE invitations SET expires_at = now() - interval '1 second'
		WHERE account_id = $1`, bobID); err != nil {
		t.Fatal(err)
	}
	if r := accept(old, "roberts long password"); r.status != 410 || !strings.Contains(string(r.body), "expired") {
		t.Fatalf("expired invitation = %d %s, want 410", r.status, r.body)
	}
	if r := h.do("POST", "/api/admin/admins/"+bobID+"/invitation", root.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("new invitation = %d %s", r.status, r.body)
	}
	if r := accept(h.invitation("bob@example.org"), "roberts long password"); r.status != 204 {
		t.Fatalf("accept the new invitation = %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/admin/admins/"+bobID+"/invitation", root.AccessToken, nil, ""); r.status != 409 {
		t.Fatalf("invitation of an active admin = %d, want 409", r.status)
	}
	testkit.Eventually(t, "invitation audit", func() bool {
		return h.countAudit("action = 'invitation_accepted'") == 2 && h.countAudit("action = 'reinvite'") == 1
	})
}

// Finding 3: passwords on the list of common ones are refused wherever a
// password is chosen, and so is one containing the email or name.
func TestIntegrationCommonPasswordRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	var out strings.Builder
	err := bootstrap(context.Background(), []string{"--email", "root@example.org"}, h.lookupEnv,
		strings.NewReader("qwertyuiop123\n"), &out)
	if err == nil || !strings.Contains(err.Error(), "too common") {
		t.Fatalf("bootstrap with a common password = %v, want refused as too common", err)
	}
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	h.createAdmin(root.AccessToken, "ada@example.org", "admin", "analytical engine")
	ada := h.login("ada@example.org", "analytical engine", "")
	for _, pw := range []string{"password1234", "ILOVEYOU1234", "1q2w3e4r5t6y"} {
		r := h.do("POST", "/api/admin/me/password", ada.AccessToken,
			map[string]string{"current_password": "analytical engine", "new_password": pw}, "")
		if r.status != 422 || !strings.Contains(string(r.body), `"new_password":"is too common`) {
			t.Errorf("change to %q = %d %s, want 422 naming new_password", pw, r.status, r.body)
		}
	}
}

// Finding 3: a password changes with the current one, and every other
// session of the admin ends at once.
func TestIntegrationChangePasswordRevokesOtherSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	h.createAdmin(root.AccessToken, "ada@example.org", "admin", "analytical engine")
	here := h.login("ada@example.org", "analytical engine", "")
	elsewhere := h.login("ada@example.org", "analytical engine", "")
	change := func(current, next string) reply {
		return h.do("POST", "/api/admin/me/password", here.AccessToken,
			map[string]string{"current_password": current, "new_password": next}, "")
	}
	if r := change("not my password", "difference engine"); r.status != 422 || !strings.Contains(string(r.body), `"current_password"`) {
		t.Fatalf("wrong current password = %d %s", r.status, r.body)
	}
	if r := change("analytical engine", "analytical engine"); r.status != 422 || !strings.Contains(string(r.body), "must differ") {
		t.Fatalf("same password = %d %s", r.status, r.body)
	}
	if r := change("analytical engine", "difference engine"); r.status != 204 {
		t.Fatalf("change = %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/api/admin/me", elsewhere.AccessToken, nil, ""); r.status != 401 {
		t.Fatalf("the other session's access token = %d, want 401", r.status)
	}
	if r := h.refresh(elsewhere.RefreshToken); r.status != 401 {
		t.Fatalf("the other session's refresh token = %d, want 401", r.status)
	}
	if r := h.do("GET", "/api/admin/me", here.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("the changing session = %d, want 200", r.status)
	}
	if r := h.refresh(here.RefreshToken); r.status != 200 {
		t.Fatalf("the changing session's refresh = %d, want 200", r.status)
	}
	if r := h.do("POST", "/api/admin/auth/login", "", map[string]string{"email": "ada@example.org", "password": "analytical engine"}, ""); r.status != 401 {
		t.Fatalf("old password = %d, want 401", r.status)
	}
	h.login("ada@example.org", "difference engine", "")
	revs := h.revocations()
	if len(revs) != 1 || revs[0].Reason != events.RevokeReasonPasswordChanged || revs[0].SessionID == "" {
		t.Fatalf("revocation events = %+v", revs)
	}
	testkit.Eventually(t, "password audit", func() bool {
		return h.countAudit("action = 'password_changed'") == 1 && h.countAudit("action = 'password_change_failed'") == 1
	})
}

// mfaLogin posts a password and returns the second step's token.
func (h *harness) mfaLogin(email, pw string) (token string, enrol bool) {
	h.t.Helper()
	r := h.do("POST", "/api/admin/auth/login", "", map[string]string{"email": email, "password": pw}, "")
	var s session
	r.json(h.t, &s)
	if r.status != 200 || !s.MFARequired || s.MFAToken == "" || s.AccessToken != "" {
		h.t.Fatalf("login of %s = %d %s, want a second step and no tokens", email, r.status, r.body)
	}
	return s.MFAToken, s.MFAEnrollmentRequired
}

func (h *harness) mfa(body map[string]string) reply {
	h.t.Helper()
	return h.do("POST", "/api/admin/auth/mfa", "", body, "")
}

// Finding 3: the TOTP second factor: a superadmin's login stops at the
// second step; codes are checked, single use and throttled; recovery
// codes work once.
func TestIntegrationTOTPLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	f := h.factor("root@example.org")

	tok, enrol := h.mfaLogin("root@example.org", rootPassword)
	if enrol {
		t.Fatal("the bootstrapped superadmin is asked to enrol")
	}
	// The MFA token is no access token.
	if r := h.do("GET", "/api/admin/me", tok, nil, ""); r.status != 401 {
		t.Fatalf("MFA token as access token = %d", r.status)
	}
	if r := h.mfa(map[string]string{"mfa_token": tok}); r.status != 422 || !strings.Contains(string(r.body), `"code"`) {
		t.Fatalf("no code = %d %s", r.status, r.body)
	}
	if r := h.mfa(map[string]string{"mfa_token": tok, "code": "000000"}); r.status != 401 {
		t.Fatalf("wrong code = %d %s", r.status, r.body)
	}
	code := h.code("root@example.org")
	r := h.mfa(map[string]string{"mfa_token": tok, "code": code})
	if r.status != 200 {
		t.Fatalf("right code = %d %s", r.status, r.body)
	}
	var s session
	r.json(t, &s)
	if s.AccessToken == "" || s.Admin.Role != "superadmin" {
		t.Fatalf("session = %s", r.body)
	}
	if r := h.mfa(map[string]string{"mfa_token": tok, "code": h.code("root@example.org")}); r.status != 401 {
		t.Fatalf("MFA token used twice = %d, want 401", r.status)
	}

	// The same code in a new login: refused, it was used in its window.
	tok, _ = h.mfaLogin("root@example.org", rootPassword)
	if r := h.mfa(map[string]string{"mfa_token": tok, "code": code}); r.status != 401 || !strings.Contains(string(r.body), "Invalid code") {
		t.Fatalf("replayed code = %d %s, want 401", r.status, r.body)
	}
	// A recovery code, once, in any case and without dashes.
	rc := f.recovery[0]
	f.recovery = f.recovery[1:]
	if r := h.mfa(map[string]string{"mfa_token": tok, "recovery_code": strings.ToLower(strings.ReplaceAll(rc, "-", ""))}); r.status != 200 {
		t.Fatalf("recovery code = %d %s", r.status, r.body)
	}
	tok, _ = h.mfaLogin("root@example.org", rootPassword)
	if r := h.mfa(map[string]string{"mfa_token": tok, "recovery_code": rc}); r.status != 401 {
		t.Fatalf("recovery code used twice = %d, want 401", r.status)
	}

	// Throttled like passwords: after 5 failures, even a good code waits.
	for i := range 4 { // one failure above already counts
		if r := h.mfa(map[string]string{"mfa_token": tok, "code": fmt.Sprintf("%06d", i)}); r.status != 401 {
			t.Fatalf("failure %d = %d %s", i, r.status, r.body)
		}
	}
	if r := h.mfa(map[string]string{"mfa_token": tok, "recovery_code": f.recovery[0]}); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt (a good recovery code) = %d %s, want 429 with Retry-After", r.status, r.body)
	}
	testkit.Eventually(t, "MFA audit", func() bool {
		return h.countAudit("action = 'mfa_failed'") >= 5 && h.countAudit("action = 'mfa_throttled'") == 1 &&
			h.countAudit(`action = 'login_succeeded' AND changes->>'mfa' = 'recovery_code'`) == 1
	})
}

// Finding 3: enrolment. An invited superadmin has no factor: its login
// gives only the enrolment step, never an access token; an admin may
// enrol by choice; a superadmin resets a lost factor.
func TestIntegrationTOTPEnrolmentAndReset(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")

	// An invited superadmin enrols at its first login.
	h.createAdmin(root.AccessToken, "sam@example.org", "superadmin", "a superadmin passphrase")
	tok, enrol := h.mfaLogin("sam@example.org", "a superadmin passphrase")
	if !enrol {
		t.Fatal("a superadmin without TOTP is not asked to enrol")
	}
	if r := h.mfa(map[string]string{"mfa_token": tok, "code": "123456"}); r.status != 409 {
		t.Fatalf("code before enrolling = %d %s, want 409", r.status, r.body)
	}
	r := h.do("POST", "/api/admin/auth/mfa/enroll", "", map[string]string{"mfa_token": tok}, "")
	var e struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	}
	r.json(t, &e)
	if r.status != 200 || e.Secret == "" || !strings.HasPrefix(e.URI, "otpauth://totp/") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol = %d %s", r.status, r.body)
	}
	c, err := totp.Code(e.Secret, totp.Step(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	r = h.mfa(map[string]string{"mfa_token": tok, "code": c})
	var sam session
	r.json(t, &sam)
	if r.status != 200 || sam.AccessToken == "" || len(sam.RecoveryCodes) != 10 {
		t.Fatalf("confirm enrolment at login = %d %s", r.status, r.body)
	}
	h.setFactor("sam@example.org", &factor{secret: e.Secret, lastStep: totp.Step(time.Now()), recovery: sam.RecoveryCodes})
	if r := h.do("GET", "/api/admin/admins", sam.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("enrolled superadmin lists admins = %d", r.status)
	}

	// An admin enrols by choice; its next login needs the code.
	h.createAdmin(root.AccessToken, "ada@example.org", "admin", "analytical engine")
	ada := h.login("ada@example.org", "analytical engine", "")
	if ada.AccessToken == "" {
		t.Fatal("an admin without TOTP needs a second step")
	}
	r = h.do("POST", "/api/admin/me/totp", ada.AccessToken, nil, "")
	r.json(t, &e)
	if r.status != 200 || e.Secret == "" {
		t.Fatalf("start enrolment = %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/admin/me/totp/confirm", ada.AccessToken, map[string]string{"code": "000000"}, ""); r.status != 422 {
		t.Fatalf("confirm with a wrong code = %d %s, want 422", r.status, r.body)
	}
	c, _ = totp.Code(e.Secret, totp.Step(time.Now()))
	r = h.do("POST", "/api/admin/me/totp/confirm", ada.AccessToken, map[string]string{"code": c}, "")
	var codes struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	r.json(t, &codes)
	if r.status != 200 || len(codes.RecoveryCodes) != 10 {
		t.Fatalf("confirm = %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/api/admin/me/totp", ada.AccessToken, nil, ""); r.status != 409 {
		t.Fatalf("enrol twice = %d, want 409", r.status)
	}
	h.setFactor("ada@example.org", &factor{secret: e.Secret, lastStep: totp.Step(time.Now()), recovery: codes.RecoveryCodes})
	if tok, enrol := h.mfaLogin("ada@example.org", "analytical engine"); tok == "" || enrol {
		t.Fatal("an enrolled admin logs in without a code")
	}

	// Ada lost her phone: a superadmin resets the factor, audited; an
	// admin may not, nor may a superadmin reset its own.
	var adaID string
	var list struct {
		Items []struct {
			ID, Email  string
			MFAEnabled bool `json:"mfa_enabled"`
		} `json:"items"`
	}
	h.do("GET", "/api/admin/admins", root.AccessToken, nil, "").json(t, &list)
	for _, it := range list.Items {
		if it.Email == "ada@example.org" {
			adaID = it.ID
			if !it.MFAEnabled {
				t.Fatal("ada's factor is not shown as enabled")
			}
		}
	}
	if r := h.do("POST", "/api/admin/admins/"+adaID+"/totp/reset", ada.AccessToken, nil, ""); r.status != 403 {
		t.Fatalf("admin resets TOTP = %d, want 403", r.status)
	}
	if r := h.do("POST", "/api/admin/admins/"+root.Admin.ID+"/totp/reset", root.AccessToken, nil, ""); r.status != 409 {
		t.Fatalf("own reset = %d, want 409", r.status)
	}
	if r := h.do("POST", "/api/admin/admins/"+adaID+"/totp/reset", root.AccessToken, nil, ""); r.status != 200 {
		t.Fatalf("reset = %d %s", r.status, r.body)
	}
	if s := h.login("ada@example.org", "analytical engine", ""); s.AccessToken == "" {
		t.Fatal("after the reset an admin still needs a code")
	}
	testkit.Eventually(t, "TOTP audit", func() bool {
		return h.countAudit("action = 'totp_reset' AND entity_id = $1 AND actor_email = 'root@example.org'", adaID) == 1 &&
			h.countAudit("action = 'totp_enrolled'") == 3 // root at bootstrap, sam, ada
	})
}

// ADMIN_MFA_REQUIRED_FOR_ADMINS makes admins enrol too.
func TestIntegrationTOTPRequiredForAdmins(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"ADMIN_MFA_REQUIRED_FOR_ADMINS": "true"})
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	h.createAdmin(root.AccessToken, "ada@example.org", "admin", "analytical engine")
	if _, enrol := h.mfaLogin("ada@example.org", "analytical engine"); !enrol {
		t.Fatal("an admin is not asked to enrol")
	}
	if s := h.login("ada@example.org", "analytical engine", ""); s.AccessToken == "" {
		t.Fatal("no session after enrolling")
	}
}

package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/acube/platform/libs/logging/logtest"
)

// The seed's runbook promises that login "logs all failed attempts"
// (README.md, "Following the logs"): an operator tailing the admin log
// must tell a failed login from any other 401, see why it failed and from
// where, and line up attempts on one account, without the log ever
// holding a password or an unknown email.

var accountRef = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestIntegrationFailedLoginsAreLogged(t *testing.T) {
	t.Parallel()
	// One free failure per account and client: the second attempt from an
	// address is throttled. Debug level, so the secrets check below reads
	// every line the service writes.
	h := newHarness(t, map[string]string{"ADMIN_THROTTLE_CLIENT_FREE": "1", "LOG_LEVEL": "debug"})
	h.bootstrap("root@example.org")
	root := h.login("root@example.org", rootPassword, "")
	const adaPassword = "analytical engine 1843"
	adaID := h.createAdmin(root.AccessToken, "ada@example.org", "admin", adaPassword)
	if r := h.do("POST", "/api/admin/admins/"+adaID+"/disable", root.AccessToken, nil, ""); r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Fatalf("disable ada = %d %s", r.status, r.body)
	}

	const unknownEmail = "Ghost.Visitor@example.org"
	tests := []struct {
		name, email, password, xff string
		wantStatus                 int
		wantReason                 string
		wantAccountID              string // "" means the line must not carry one
	}{
		{name: "wrong password", email: "root@example.org", password: "wrong password 1", xff: "203.0.113.1",
			wantStatus: http.StatusUnauthorized, wantReason: "wrong_password", wantAccountID: root.Admin.ID},
		{name: "throttled", email: "root@example.org", password: "wrong password 2", xff: "203.0.113.1",
			wantStatus: http.StatusTooManyRequests, wantReason: "throttled"},
		{name: "unknown email", email: unknownEmail, password: "ghost password 1", xff: "203.0.113.2",
			wantStatus: http.StatusUnauthorized, wantReason: "unknown_email"},
		{name: "disabled account", email: "ada@example.org", password: adaPassword, xff: "203.0.113.3",
			wantStatus: http.StatusUnauthorized, wantReason: "account_disabled", wantAccountID: adaID},
	}
	refs := map[string]string{}
	for _, tt := range tests {
		before := len(logtest.Parse(t, h.logs.String()))
		r := h.do("POST", "/api/admin/auth/login", "", map[string]string{"email": tt.email, "password": tt.password}, tt.xff)
		if r.status != tt.wantStatus {
			t.Fatalf("%s: login = %d %s, want %d", tt.name, r.status, r.body, tt.wantStatus)
		}
		// The line is written before the answer: no waiting.
		got := logtest.Find(logtest.Parse(t, h.logs.String())[before:], "Login failed", nil)
		if len(got) != 1 {
			t.Fatalf("%s: %d \"Login failed\" lines, want 1", tt.name, len(got))
		}
		l := got[0]
		if l.Level() != "WARN" || l.Str("reason") != tt.wantReason || l.Str("client_ip") != tt.xff ||
			l.Str("account_id") != tt.wantAccountID || l.Has("account_id") != (tt.wantAccountID != "") ||
			!accountRef.MatchString(l.Str("account_ref")) || l.Str("request_id") == "" {
			t.Errorf("%s: line %v, want WARN, reason %s, client_ip %s, account_id %q, a 16-hex account_ref and a request_id",
				tt.name, l, tt.wantReason, tt.xff, tt.wantAccountID)
		}
		refs[tt.name] = l.Str("account_ref")
	}
	// One email, one reference: the throttled attempt lines up with the
	// failure before it; another email gets another one.
	if refs["wrong password"] != refs["throttled"] || refs["wrong password"] == refs["unknown email"] {
		t.Errorf("account refs %v: want one per email", refs)
	}

	// A successful login is not a failed one.
	before := len(logtest.Parse(t, h.logs.String()))
	h.login("root@example.org", rootPassword, "203.0.113.9")
	if n := len(logtest.Find(logtest.Parse(t, h.logs.String())[before:], "Login failed", nil)); n != 0 {
		t.Errorf("a successful login wrote %d \"Login failed\" lines", n)
	}

	logs := strings.ToLower(h.logs.String())
	for _, secret := range []string{"wrong password 1", "wrong password 2", "ghost password 1", adaPassword, rootPassword, unknownEmail} {
		if strings.Contains(logs, strings.ToLower(secret)) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

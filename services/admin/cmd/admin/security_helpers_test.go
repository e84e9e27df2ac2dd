package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/outbox/outboxtest"
	"github.com/acube/platform/services/admin/internal/totp"
)

// factor is what an admin's authenticator app and drawer hold: the TOTP
// secret, the last time step a code was used for (the service refuses a
// step twice) and unused recovery codes.
type factor struct {
	secret   string
	lastStep int64
	recovery []string
}

// keepFactor reads the TOTP secret and the recovery codes from the
// bootstrap command's output.
func (h *harness) keepFactor(email, out string) {
	h.t.Helper()
	f := &factor{}
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "secret:"); ok {
			f.secret = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "recovery code:"); ok {
			f.recovery = append(f.recovery, strings.TrimSpace(v))
		}
	}
	if f.secret == "" || len(f.recovery) == 0 {
		h.t.Fatalf("bootstrap printed no TOTP secret or recovery codes:\n%s", out)
	}
	h.setFactor(email, f)
}

func (h *harness) setFactor(email string, f *factor) {
	if h.factors == nil {
		h.factors = map[string]*factor{}
	}
	h.factors[strings.ToLower(email)] = f
}

func (h *harness) factor(email string) *factor {
	h.t.Helper()
	f := h.factors[strings.ToLower(email)]
	if f == nil {
		h.t.Fatalf("no TOTP factor known for %s", email)
	}
	return f
}

// code is a TOTP code of email's factor that the service has not seen:
// the current step's, else the next one's (within the allowed skew), or
// "" when both are spent.
func (h *harness) code(email string) string {
	h.t.Helper()
	f := h.factor(email)
	cur := totp.Step(time.Now())
	for s := cur; s <= cur+1; s++ {
		if s > f.lastStep {
			c, err := totp.Code(f.secret, s)
			if err != nil {
				h.t.Fatal(err)
			}
			f.lastStep = s
			return c
		}
	}
	return ""
}

// secondStep completes a login with a TOTP code, or with a recovery code
// when two logins have used up the current time steps; it enrols first
// when the service says the account has no factor yet.
func (h *harness) secondStep(email, mfaToken, xff string) session {
	h.t.Helper()
	var body map[string]string
	if h.factors[strings.ToLower(email)] == nil {
		r := h.do("POST", "/api/admin/auth/mfa/enroll", "", map[string]string{"mfa_token": mfaToken}, xff)
		if r.status != http.StatusOK {
			h.t.Fatalf("enrol TOTP of %s = %d %s", email, r.status, r.body)
		}
		var e struct {
			Secret string `json:"secret"`
		}
		r.json(h.t, &e)
		h.setFactor(email, &factor{secret: e.Secret})
	}
	if c := h.code(email); c != "" {
		body = map[string]string{"mfa_token": mfaToken, "code": c}
	} else {
		f := h.factor(email)
		if len(f.recovery) == 0 {
			h.t.Fatalf("no TOTP step or recovery code left for %s", email)
		}
		body = map[string]string{"mfa_token": mfaToken, "recovery_code": f.recovery[0]}
		f.recovery = f.recovery[1:]
	}
	r := h.do("POST", "/api/admin/auth/mfa", "", body, xff)
	if r.status != http.StatusOK {
		h.t.Fatalf("second step of %s = %d %s", email, r.status, r.body)
	}
	var s session
	r.json(h.t, &s)
	if len(s.RecoveryCodes) > 0 {
		h.factor(email).recovery = s.RecoveryCodes
	}
	return s
}

// invite invites an admin as the superadmin and returns its id.
func (h *harness) invite(superToken, email, role string) string {
	h.t.Helper()
	r := h.do("POST", "/api/admin/admins", superToken, map[string]string{"email": email, "name": "Test " + role, "role": role}, "")
	if r.status != http.StatusCreated {
		h.t.Fatalf("invite admin %s = %d %s", email, r.status, r.body)
	}
	var a struct{ ID string }
	r.json(h.t, &a)
	return a.ID
}

// invitation is the token of the newest invitation to email, read from
// the admin.account.invited event in the outbox as the mailer reads it
// from the stream.
func (h *harness) invitation(email string) string {
	h.t.Helper()
	invited := outboxtest.Data[events.AccountInvited](h.t, outboxtest.Events(h.t, h.pool, events.TypeAccountInvited))
	for _, d := range slices.Backward(invited) {
		if !strings.EqualFold(d.Email, email) {
			continue
		}
		u, err := url.Parse(d.AcceptURL)
		if err != nil || u.Query().Get("token") == "" {
			h.t.Fatalf("invitation of %s links to %q", email, d.AcceptURL)
		}
		return u.Query().Get("token")
	}
	h.t.Fatalf("no invitation to %s in the outbox", email)
	return ""
}

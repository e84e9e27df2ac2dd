package pages

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/services/admin/internal/account"
)

// accepter stands in for account.Service: the page's job is to map its
// answers, which the account package's own tests and the e2e browser
// test (tools/e2e/pages_test.go) check against the real service.
type accepter struct {
	mu    sync.Mutex
	calls []string // token|password|client
}

// tokenState is the stand-in's answer for token, as account.Service's
// CheckInvitation and AcceptInvitation would give it.
func tokenState(token string) error {
	switch token {
	case "used":
		return fmt.Errorf("check invitation: %w", account.ErrInvitationUsed)
	case "expired":
		return fmt.Errorf("check invitation: %w", account.ErrInvitationExpired)
	case "unknown":
		return fmt.Errorf("check invitation: %w", account.ErrInvitationInvalid)
	}
	return nil
}

func (a *accepter) CheckInvitation(_ context.Context, token string) error { return tokenState(token) }

func (a *accepter) AcceptInvitation(_ context.Context, token, pw, client string) error {
	a.mu.Lock()
	a.calls = append(a.calls, token+"|"+pw+"|"+client)
	a.mu.Unlock()
	switch {
	case token == "used":
		return fmt.Errorf("accept invitation: %w", account.ErrInvitationUsed)
	case token == "expired":
		return fmt.Errorf("accept invitation: %w", account.ErrInvitationExpired)
	case token == "unknown":
		return fmt.Errorf("accept invitation: %w", account.ErrInvitationInvalid)
	case token == "boom":
		return fmt.Errorf("accept invitation: database down")
	case pw == "password1234":
		return &account.ValidationError{Fields: map[string]string{"password": "is too common: it is on a list of breached passwords; choose another"}}
	}
	return nil
}

func TestInvitationPage(t *testing.T) {
	t.Parallel()
	acc := &accepter{}
	r := chi.NewRouter()
	if err := Mount(r, acc, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Config{MinLength: 12, ClientIP: func(*http.Request) string { return "192.0.2.7" }}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const form = "application/x-www-form-urlencoded"
	post := func(v ...string) url.Values {
		out := url.Values{}
		for i := 0; i+1 < len(v); i += 2 {
			out.Set(v[i], v[i+1])
		}
		return out
	}
	tests := []struct {
		name       string
		method     string
		path       string
		ctype      string
		form       url.Values
		wantStatus int
		want       []string
		wantNot    []string
		wantLoc    string
	}{
		{name: "form", method: "GET", path: "/admin/invitation?token=tok-1", wantStatus: 200,
			want: []string{"Choose your password", `name="token" value="tok-1"`, `<label for="password">`, `<label for="confirm">`,
				"at least 12 characters", "breached", `autocomplete="new-password"`, `action="/admin/invitation"`}},
		{name: "no token", method: "GET", path: "/admin/invitation", wantStatus: 404, want: []string{"does not work"}},
		{name: "forged link opened", method: "GET", path: "/admin/invitation?token=unknown", wantStatus: 404, want: []string{"does not work"}, wantNot: []string{"<form"}},
		{name: "spent link opened", method: "GET", path: "/admin/invitation?token=used", wantStatus: 410, want: []string{"used already"}, wantNot: []string{"<form"}},
		{name: "expired link opened", method: "GET", path: "/admin/invitation?token=expired", wantStatus: 410, want: []string{"has expired"}, wantNot: []string{"<form"}},
		{name: "success page", method: "GET", path: "/admin/invitation?accepted=1", wantStatus: 200,
			want: []string{"Your password is set", "Sign in", "authenticator app"}},
		{name: "mismatch", method: "POST", path: "/admin/invitation", ctype: form,
			form: post("token", "tok-1", "password", "a long passphrase", "confirm", "another one"), wantStatus: 422,
			want: []string{"do not match", `aria-invalid="true"`, `value="tok-1"`}, wantNot: []string{"a long passphrase", "another one"}},
		{name: "empty password", method: "POST", path: "/admin/invitation", ctype: form, form: post("token", "tok-1"), wantStatus: 422,
			want: []string{"The password is required."}},
		{name: "breached password", method: "POST", path: "/admin/invitation", ctype: form,
			form: post("token", "tok-1", "password", "password1234", "confirm", "password1234"), wantStatus: 422,
			want:    []string{"The password is too common", `id="password-error"`, `aria-describedby="password-rules password-error"`, `value="tok-1"`},
			wantNot: []string{`value="password1234"`}},
		{name: "accepted", method: "POST", path: "/admin/invitation", ctype: form,
			form: post("token", "tok-1", "password", "a long passphrase", "confirm", "a long passphrase"), wantStatus: 303,
			wantLoc: "/admin/invitation?accepted=1"},
		{name: "used", method: "POST", path: "/admin/invitation", ctype: form,
			form: post("token", "used", "password", "a long passphrase", "confirm", "a long passphrase"), wantStatus: 410, want: []string{"used already"}},
		{name: "expired", method: "POST", path: "/admin/invitation", ctype: form,
			form: post("token", "expired", "password", "a long passphrase", "confirm", "a long passphrase"), wantStatus: 410, want: []string{"has expired"}},
		{name: "forged", method: "POST", path: "/admin/invitation", ctype: form,
			form: post("token", "unknown", "password", "a long passphrase", "confirm", "a long passphrase"), wantStatus: 404, want: []string{"does not work"}},
		{name: "no token posted", method: "POST", path: "/admin/invitation", ctype: form, form: post("password", "x", "confirm", "x"), wantStatus: 404},
		{name: "json refused", method: "POST", path: "/admin/invitation", ctype: "application/json", form: post("token", "tok-1"), wantStatus: 415},
		{name: "server error", method: "POST", path: "/admin/invitation", ctype: form,
			form: post("token", "boom", "password", "a long passphrase", "confirm", "a long passphrase"), wantStatus: 500,
			want: []string{"was not set"}, wantNot: []string{"database"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.form != nil {
				body = strings.NewReader(tt.form.Encode())
			}
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, body)
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(raw)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tt.wantStatus, page)
			}
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			if !strings.Contains(csp, "style-src 'sha256-") || !strings.Contains(csp, "form-action 'self'") || strings.Contains(csp, "script") ||
				h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", h)
			}
			if tt.wantLoc != "" && h.Get("Location") != tt.wantLoc {
				t.Errorf("Location %q, want %q", h.Get("Location"), tt.wantLoc)
			}
			if resp.StatusCode != http.StatusSeeOther {
				if h.Get("Content-Type") != "text/html; charset=utf-8" || strings.Count(page, "<h1") != 1 || strings.Contains(page, "<script") {
					t.Errorf("want an HTML page with one h1 and no script: %s\n%s", h.Get("Content-Type"), page)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(page, w) {
					t.Errorf("page shows %q", w)
				}
			}
		})
	}
	// The account service was asked with the client address, and never
	// for a form the page itself refused.
	if len(acc.calls) != 6 || acc.calls[0] != "tok-1|password1234|192.0.2.7" {
		t.Errorf("calls %q", acc.calls)
	}
}

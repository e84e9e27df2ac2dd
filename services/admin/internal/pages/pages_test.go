package pages

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/webpage/webpagetest"
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
	const form = webpagetest.FormType
	post := webpagetest.Form
	webpagetest.Run(t, srv.URL, []webpagetest.Step{
		{Name: "form", Method: "GET", Path: "/admin/invitation?token=tok-1", WantStatus: 200,
			Want: []string{"Choose your password", `name="token" value="tok-1"`, `<label for="password">`, `<label for="confirm">`,
				"at least 12 characters", "breached", `autocomplete="new-password"`, `action="/admin/invitation"`}},
		{Name: "no token", Method: "GET", Path: "/admin/invitation", WantStatus: 404, Want: []string{"does not work"}},
		{Name: "forged link opened", Method: "GET", Path: "/admin/invitation?token=unknown", WantStatus: 404, Want: []string{"does not work"}, WantNot: []string{"<form"}},
		{Name: "spent link opened", Method: "GET", Path: "/admin/invitation?token=used", WantStatus: 410, Want: []string{"used already"}, WantNot: []string{"<form"}},
		{Name: "expired link opened", Method: "GET", Path: "/admin/invitation?token=expired", WantStatus: 410, Want: []string{"has expired"}, WantNot: []string{"<form"}},
		{Name: "success page", Method: "GET", Path: "/admin/invitation?accepted=1", WantStatus: 200,
			Want: []string{"Your password is set", "Sign in", "authenticator app"}},
		{Name: "mismatch", Method: "POST", Path: "/admin/invitation", CType: form,
			Form: post("token", "tok-1", "password", "a long passphrase", "confirm", "another one"), WantStatus: 422,
			Want: []string{"do not match", `aria-invalid="true"`, `value="tok-1"`}, WantNot: []string{"a long passphrase", "another one"}},
		{Name: "empty password", Method: "POST", Path: "/admin/invitation", CType: form, Form: post("token", "tok-1"), WantStatus: 422,
			Want: []string{"The password is required."}},
		{Name: "breached password", Method: "POST", Path: "/admin/invitation", CType: form,
			Form: post("token", "tok-1", "password", "password1234", "confirm", "password1234"), WantStatus: 422,
			Want:    []string{"The password is too common", `id="password-error"`, `aria-describedby="password-rules password-error"`, `value="tok-1"`},
			WantNot: []string{`value="password1234"`}},
		{Name: "accepted", Method: "POST", Path: "/admin/invitation", CType: form,
			Form: post("token", "tok-1", "password", "a long passphrase", "confirm", "a long passphrase"), WantStatus: 303,
			WantLoc: "/admin/invitation?accepted=1"},
		{Name: "used", Method: "POST", Path: "/admin/invitation", CType: form,
			Form: post("token", "used", "password", "a long passphrase", "confirm", "a long passphrase"), WantStatus: 410, Want: []string{"used already"}},
		{Name: "expired", Method: "POST", Path: "/admin/invitation", CType: form,
			Form: post("token", "expired", "password", "a long passphrase", "confirm", "a long passphrase"), WantStatus: 410, Want: []string{"has expired"}},
		{Name: "forged", Method: "POST", Path: "/admin/invitation", CType: form,
			Form: post("token", "unknown", "password", "a long passphrase", "confirm", "a long passphrase"), WantStatus: 404, Want: []string{"does not work"}},
		{Name: "no token posted", Method: "POST", Path: "/admin/invitation", CType: form, Form: post("password", "x", "confirm", "x"), WantStatus: 404},
		{Name: "json refused", Method: "POST", Path: "/admin/invitation", CType: "application/json", Form: post("token", "tok-1"), WantStatus: 415},
		{Name: "server error", Method: "POST", Path: "/admin/invitation", CType: form,
			Form: post("token", "boom", "password", "a long passphrase", "confirm", "a long passphrase"), WantStatus: 500,
			Want: []string{"was not set"}, WantNot: []string{"database"}},
	})
	// The account service was asked with the client address, and never
	// for a form the page itself refused.
	if len(acc.calls) != 6 || acc.calls[0] != "tok-1|password1234|192.0.2.7" {
		t.Errorf("calls %q", acc.calls)
	}
}

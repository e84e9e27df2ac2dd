package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type adminView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

type sessionResponse struct {
	AccessToken      string    `json:"access_token"`
	TokenType        string    `json:"token_type"`
	ExpiresIn        int       `json:"expires_in"`
	ExpiresAt        time.Time `json:"expires_at"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresIn int       `json:"refresh_expires_in"`
	Admin            adminView `json:"admin"`
	// RecoveryCodes come once, with the login that enrolled TOTP.
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

// mfaResponse is a login's answer when a second step is needed.
type mfaResponse struct {
	MFARequired           bool   `json:"mfa_required"`
	MFAToken              string `json:"mfa_token"`
	MFAExpiresIn          int    `json:"mfa_expires_in"`
	MFAEnrollmentRequired bool   `json:"mfa_enrollment_required"`
}

func sessionView(s account.Session) sessionResponse {
	now := time.Now()
	return sessionResponse{
		AccessToken: s.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(s.AccessExpiresAt.Sub(now).Seconds()), ExpiresAt: s.AccessExpiresAt,
		RefreshToken: s.RefreshToken, RefreshExpiresIn: int(s.RefreshExpiresAt.Sub(now).Seconds()),
		Admin:         adminView{ID: s.Account.ID.String(), Email: s.Account.Email, Name: s.Account.Name, Role: s.Account.Role},
		RecoveryCodes: s.RecoveryCodes,
	}
}

// loginView is tokens, or the second step when one is needed.
func loginView(s account.Session) any {
	if s.MFA == nil {
		return sessionView(s)
	}
	return mfaResponse{MFARequired: true, MFAToken: s.MFA.Token,
		MFAExpiresIn: int(time.Until(s.MFA.ExpiresAt).Seconds()), MFAEnrollmentRequired: s.MFA.EnrollmentRequired}
}

func (a *API) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	web.WriteJSON(w, http.StatusOK, a.d.Keys.JWKS())
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req loginRequest
	if err := web.Decode(w, r, 8<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ip := a.d.Clients.Addr(r)
	s, err := a.d.Accounts.Login(r.Context(), req.Email, req.Password, ip)
	if err != nil {
		a.logLoginFailure(r, ip, err)
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, loginView(s))
}

// logLoginFailure writes the one "Login failed" line of a refused login
// (the seed's runbook: login "logs all failed attempts"), so an operator
// tailing the log tells it from any other 401 and sees why and from
// where. The account is named by its id when it exists and always by a
// keyed hash of the email; the email and the password never reach the log.
func (a *API) logLoginFailure(r *http.Request, ip string, err error) {
	var lf *account.LoginError
	if !errors.As(err, &lf) {
		return // invalid input or a server error: not a refused login
	}
	attrs := []slog.Attr{slog.String("reason", lf.Reason), slog.String("client_ip", ip),
		slog.String("account_ref", lf.AccountRef)}
	if lf.AccountID != "" {
		attrs = append(attrs, slog.String("account_id", lf.AccountID))
	}
	attrs = append(attrs, slog.String("request_id", web.RequestID(r.Context())))
	a.d.Log.LogAttrs(r.Context(), slog.LevelWarn, "Login failed", attrs...)
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req refreshRequest
	if err := web.Decode(w, r, 4<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.d.Accounts.Refresh(r.Context(), req.RefreshToken, a.d.Clients.Addr(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, sessionView(s))
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := web.Decode(w, r, 4<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.RefreshToken == "" {
		// No credential at all: nothing says which session to end.
		a.fail(w, r, unauthorized(w, "Unauthorized", "send the refresh_token of the session to end"))
		return
	}
	if err := a.d.Accounts.Logout(r.Context(), req.RefreshToken, a.d.Clients.Addr(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	act := a.actor(r)
	web.WriteJSON(w, http.StatusOK, adminView{ID: act.ID, Email: act.Email, Name: act.Name, Role: act.Role})
}

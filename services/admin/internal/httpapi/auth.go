package httpapi

import (
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
}

func sessionView(s account.Session) sessionResponse {
	now := time.Now()
	return sessionResponse{
		AccessToken: s.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(s.AccessExpiresAt.Sub(now).Seconds()), ExpiresAt: s.AccessExpiresAt,
		RefreshToken: s.RefreshToken, RefreshExpiresIn: int(s.RefreshExpiresAt.Sub(now).Seconds()),
		Admin: adminView{ID: s.Account.ID.String(), Email: s.Account.Email, Name: s.Account.Name, Role: s.Account.Role},
	}
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
	s, err := a.d.Accounts.Login(r.Context(), req.Email, req.Password, a.d.ClientIP.Of(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, sessionView(s))
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req refreshRequest
	if err := web.Decode(w, r, 4<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.d.Accounts.Refresh(r.Context(), req.RefreshToken, a.d.ClientIP.Of(r))
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
	if err := a.d.Accounts.Logout(r.Context(), req.RefreshToken, a.d.ClientIP.Of(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	act := a.actor(r)
	web.WriteJSON(w, http.StatusOK, adminView{ID: act.ID, Email: act.Email, Name: act.Name, Role: act.Role})
}

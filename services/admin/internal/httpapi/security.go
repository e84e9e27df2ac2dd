package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
)

// The handlers of the second factor, password changes and invitations.
// Every answer that carries a secret (tokens, a TOTP secret, recovery
// codes) says Cache-Control: no-store.

type mfaRequest struct {
	MFAToken     string `json:"mfa_token"`
	Code         string `json:"code"`
	RecoveryCode string `json:"recovery_code"`
}

type mfaEnrollRequest struct {
	MFAToken string `json:"mfa_token"`
}

type enrolmentView struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryCodesView struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

type acceptRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (a *API) mfa(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req mfaRequest
	if err := web.Decode(w, r, 4<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.d.Accounts.CompleteMFA(r.Context(), req.MFAToken,
		account.MFAProof{Code: req.Code, RecoveryCode: req.RecoveryCode}, a.d.Clients.Addr(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, sessionView(s))
}

func (a *API) mfaEnroll(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req mfaEnrollRequest
	if err := web.Decode(w, r, 4<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.d.Accounts.StartEnrolmentForLogin(r.Context(), req.MFAToken, a.d.Clients.Addr(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, enrolmentView{Secret: e.Secret, OTPAuthURI: e.URI})
}

func (a *API) startTOTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	e, err := a.d.Accounts.StartEnrolment(r.Context(), a.actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, enrolmentView{Secret: e.Secret, OTPAuthURI: e.URI})
}

func (a *API) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req codeRequest
	if err := web.Decode(w, r, 1<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	codes, err := a.d.Accounts.ConfirmEnrolment(r.Context(), a.actor(r), req.Code)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, recoveryCodesView{RecoveryCodes: codes})
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	var req passwordChangeRequest
	if err := web.Decode(w, r, 8<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.d.Accounts.ChangePassword(r.Context(), a.actor(r), req.CurrentPassword, req.NewPassword); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req acceptRequest
	if err := web.Decode(w, r, 8<<10, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.d.Accounts.AcceptInvitation(r.Context(), req.Token, req.Password, a.d.Clients.Addr(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) reinviteAdmin(w http.ResponseWriter, r *http.Request) {
	id, ok := a.adminID(w, r)
	if !ok {
		return
	}
	sent, err := a.d.Accounts.Reinvite(r.Context(), a.actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, accountView(sent.Account, &sent.ExpiresAt))
}

func (a *API) resetTOTP(w http.ResponseWriter, r *http.Request) {
	id, ok := a.adminID(w, r)
	if !ok {
		return
	}
	acct, err := a.d.Accounts.ResetTOTP(r.Context(), a.actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, accountView(acct, nil))
}

// adminID reads the {id} of an admin path; an id that is no UUID names
// no admin.
func (a *API) adminID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, web.NotFound("no admin "+chi.URLParam(r, "id")))
		return uuid.Nil, false
	}
	return id, true
}

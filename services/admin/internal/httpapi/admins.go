package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
)

func (a *API) listAdmins(w http.ResponseWriter, r *http.Request) {
	list, err := a.d.Accounts.List(r.Context(), a.actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (a *API) createAdmin(w http.ResponseWriter, r *http.Request) {
	var in account.NewAccount
	if err := web.Decode(w, r, 8<<10, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	acct, err := a.d.Accounts.Create(r.Context(), a.actor(r), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/admin/admins/"+acct.ID.String())
	web.WriteJSON(w, http.StatusCreated, acct)
}

func (a *API) disableAdmin(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, web.NotFound("no admin "+chi.URLParam(r, "id")))
		return
	}
	acct, err := a.d.Accounts.Disable(r.Context(), a.actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, acct)
}

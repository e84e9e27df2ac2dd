package httpapi

import (
	"net/http"
	"time"

	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
)

// adminAccount is an admin account as the API shows it.
type adminAccount struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Status      string     `json:"status"`
	MFAEnabled  bool       `json:"mfa_enabled"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by,omitempty"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	// InvitationExpiresAt comes with an invitation just sent.
	InvitationExpiresAt *time.Time `json:"invitation_expires_at,omitempty"`
}

// adminPage is a page of admins (AdminPage).
type adminPage struct {
	Items      []adminAccount `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func accountView(a account.Account, invitationExpires *time.Time) adminAccount {
	return adminAccount{ID: a.ID.String(), Email: a.Email, Name: a.Name, Role: a.Role, Status: a.Status(),
		MFAEnabled: a.MFAEnabled(), CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy, ActivatedAt: a.ActivatedAt,
		DisabledAt: a.DisabledAt, InvitationExpiresAt: invitationExpires}
}

// listAdmins serves GET /api/admin/admins?limit=&cursor=, oldest first.
func (a *API) listAdmins(w http.ResponseWriter, r *http.Request) {
	limit, after, bad := keyset.Query(r.URL.Query())
	if len(bad) > 0 {
		a.fail(w, r, web.Invalid(bad))
		return
	}
	page, err := a.d.Accounts.List(r.Context(), a.actor(r), after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := adminPage{Items: make([]adminAccount, len(page.Items))}
	for i, acct := range page.Items {
		out.Items[i] = accountView(acct, nil)
	}
	if page.Next != nil {
		out.NextCursor = page.Next.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, out)
}

// createAdmin invites an admin: {email, name, role}, no password.
func (a *API) createAdmin(w http.ResponseWriter, r *http.Request) {
	var in account.Invitee
	if err := web.Decode(w, r, 8<<10, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	sent, err := a.d.Accounts.Create(r.Context(), a.actor(r), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/admin/admins/"+sent.Account.ID.String())
	web.WriteJSON(w, http.StatusCreated, accountView(sent.Account, &sent.ExpiresAt))
}

func (a *API) disableAdmin(w http.ResponseWriter, r *http.Request) {
	id, ok := a.adminID(w, r)
	if !ok {
		return
	}
	acct, err := a.d.Accounts.Disable(r.Context(), a.actor(r), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, accountView(acct, nil))
}

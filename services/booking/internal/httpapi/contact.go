package httpapi

import (
	"net/http"
	"time"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
)

type contactRequest struct {
	Email   string `json:"email"`
	Name    string `json:"name"`
	Phone   string `json:"phone"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

type contactResponse struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Phone        string `json:"phone"`
	Subject      string `json:"subject"`
	Message      string `json:"message"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason,omitempty"`
	CreatedAt    string `json:"created_at"`
	UpdatedAt    string `json:"updated_at"`
}

func toContactResponse(c booking.Contact) contactResponse {
	return contactResponse{ID: c.ID.String(), Email: c.Email, Name: c.Name, Phone: c.Phone,
		Subject: c.Subject, Message: c.Message, Status: c.Status, StatusReason: c.StatusReason,
		CreatedAt: c.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: c.UpdatedAt.Format(time.RFC3339Nano)}
}

func (a *API) sendContact(w http.ResponseWriter, r *http.Request) {
	var req contactRequest
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.svc.Contact(r.Context(), booking.ContactRequest(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, toContactResponse(c))
}

func (a *API) listContacts(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.Contacts(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toList(p, toContactResponse))
}

func (a *API) setContactStatus(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req setStatusRequest
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.svc.SetContactStatus(r.Context(), a.actor(r), id, req.Status, req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toContactResponse(c))
}

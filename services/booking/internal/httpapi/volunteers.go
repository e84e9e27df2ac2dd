package httpapi

import (
	"net/http"
	"time"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
)

type volunteerRequest struct {
	Email        string `json:"email"`
	Name         string `json:"name"`
	Phone        string `json:"phone"`
	Interests    string `json:"interests"`
	Availability string `json:"availability"`
	Message      string `json:"message"`
}

type volunteerResponse struct {
	ID           string `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Phone        string `json:"phone"`
	Interests    string `json:"interests"`
	Availability string `json:"availability"`
	Message      string `json:"message"`
	Status       string `json:"status"`
	StatusReason string `json:"status_reason,omitempty"`
	CreatedAt    string `json:"created_at"`
	UpdatedAt    string `json:"updated_at"`
}

func toVolunteerResponse(v booking.Volunteer) volunteerResponse {
	return volunteerResponse{ID: v.ID.String(), Email: v.Email, Name: v.Name, Phone: v.Phone,
		Interests: v.Interests, Availability: v.Availability, Message: v.Message, Status: v.Status, StatusReason: v.StatusReason,
		CreatedAt: v.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: v.UpdatedAt.Format(time.RFC3339Nano)}
}

func (a *API) applyVolunteer(w http.ResponseWriter, r *http.Request) {
	var req volunteerRequest
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.svc.Apply(r.Context(), booking.VolunteerRequest(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, toVolunteerResponse(v))
}

func (a *API) listVolunteers(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.Volunteers(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toList(p, toVolunteerResponse))
}

// setStatusRequest is PATCH /api/volunteers/{id}/status and
// /api/contact/{id}/status: the new status and, optionally, why.
type setStatusRequest struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func (a *API) setVolunteerStatus(w http.ResponseWriter, r *http.Request) {
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
	v, err := a.svc.SetVolunteerStatus(r.Context(), a.actor(r), id, req.Status, req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toVolunteerResponse(v))
}

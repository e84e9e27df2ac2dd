package httpapi

import (
	"net/http"
	"time"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
)

type eventRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Location    string `json:"location"`
	StartsAt    string `json:"starts_at"`
	EndsAt      string `json:"ends_at"`
	Capacity    int    `json:"capacity"`
}

type eventResponse struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Location    string `json:"location"`
	StartsAt    string `json:"starts_at"`
	EndsAt      string `json:"ends_at"`
	Capacity    int    `json:"capacity"`
	SeatsLeft   int    `json:"seats_left"`
	Waitlisted  int    `json:"waitlisted"`
	ImageURL    string `json:"image_url,omitempty"`
	CreatedAt   string `json:"created_at"`
}

func toEventResponse(e booking.Event) eventResponse {
	out := eventResponse{
		ID: e.ID.String(), Title: e.Title, Description: e.Description, Location: e.Location,
		StartsAt: e.StartsAt.Format(time.RFC3339), EndsAt: e.EndsAt.Format(time.RFC3339),
		Capacity: e.Capacity, SeatsLeft: e.SeatsLeft(), Waitlisted: e.Waitlisted,
		CreatedAt: e.CreatedAt.Format(time.RFC3339Nano),
	}
	if e.ImageType != "" {
		out.ImageURL = "/api/events/" + e.ID.String() + "/image"
	}
	return out
}

func (a *API) createEvent(w http.ResponseWriter, r *http.Request) {
	var req eventRequest
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.svc.CreateEvent(r.Context(), a.actor(r), booking.EventRequest(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/events/"+e.ID.String())
	web.WriteJSON(w, http.StatusCreated, toEventResponse(e))
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.svc.Event(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toEventResponse(e))
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.UpcomingEvents(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toList(p, toEventResponse))
}

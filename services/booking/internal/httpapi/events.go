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

// eventPatch is PATCH /api/events/{id}: the fields of eventRequest, each
// optional.
type eventPatch struct {
	Title       optional[string] `json:"title"`
	Description optional[string] `json:"description"`
	Location    optional[string] `json:"location"`
	StartsAt    optional[string] `json:"starts_at"`
	EndsAt      optional[string] `json:"ends_at"`
	Capacity    optional[int]    `json:"capacity"`
}

func (p eventPatch) changes() (booking.EventChanges, error) {
	fields := map[string]string{}
	c := booking.EventChanges{
		Title:       p.Title.ptr(fields, "title"),
		Description: p.Description.ptr(fields, "description"),
		Location:    p.Location.ptr(fields, "location"),
		StartsAt:    p.StartsAt.ptr(fields, "starts_at"),
		EndsAt:      p.EndsAt.ptr(fields, "ends_at"),
		Capacity:    p.Capacity.ptr(fields, "capacity"),
	}
	if len(fields) > 0 {
		return booking.EventChanges{}, &booking.ValidationError{Fields: fields}
	}
	return c, nil
}

func (a *API) updateEvent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req eventPatch
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := req.changes()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.svc.UpdateEvent(r.Context(), a.actor(r), id, c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toEventResponse(e))
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

package httpapi

import (
	"net/http"
	"time"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
)

type registerRequest struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// registrationResponse is a registration as admins see it, with who
// cancelled it and why.
type registrationResponse struct {
	ID               string         `json:"id"`
	EventID          string         `json:"event_id"`
	Email            string         `json:"email"`
	Name             string         `json:"name"`
	Phone            string         `json:"phone"`
	Status           string         `json:"status"`
	WaitlistPosition int            `json:"waitlist_position,omitempty"`
	CancelledBy      string         `json:"cancelled_by,omitempty"`
	CancelReason     string         `json:"cancel_reason,omitempty"`
	CreatedAt        string         `json:"created_at"`
	UpdatedAt        string         `json:"updated_at"`
	Event            *eventResponse `json:"event,omitempty"`
}

func toRegistrationResponse(x booking.Registration) registrationResponse {
	return registrationResponse{
		ID: x.ID.String(), EventID: x.EventID.String(), Email: x.Email, Name: x.Name, Phone: x.Phone,
		Status: string(x.Status), WaitlistPosition: x.WaitlistPosition,
		CancelledBy: x.CancelledBy, CancelReason: x.CancelReason,
		CreatedAt: x.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: x.UpdatedAt.Format(time.RFC3339Nano),
	}
}

// registrantView is a registration as its registrant sees it: what they
// gave, its status, place on the waitlist and times, and on the manage
// view the event. Who on the staff cancelled it and the reason they wrote
// are for admins (issue 13, finding 6); the registrant is told of an
// admin's cancellation, with the reason, by email.
type registrantView struct {
	ID               string         `json:"id"`
	EventID          string         `json:"event_id"`
	Email            string         `json:"email"`
	Name             string         `json:"name"`
	Phone            string         `json:"phone"`
	Status           string         `json:"status"`
	WaitlistPosition int            `json:"waitlist_position,omitempty"`
	CreatedAt        string         `json:"created_at"`
	UpdatedAt        string         `json:"updated_at"`
	Event            *eventResponse `json:"event,omitempty"`
}

func toRegistrantView(x booking.Registration) registrantView {
	return registrantView{
		ID: x.ID.String(), EventID: x.EventID.String(), Email: x.Email, Name: x.Name, Phone: x.Phone,
		Status: string(x.Status), WaitlistPosition: x.WaitlistPosition,
		CreatedAt: x.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: x.UpdatedAt.Format(time.RFC3339Nano),
	}
}

// register answers a new address and one registered already alike
// (booking.Service.Register): 201 with the registration as the registrant
// would see it.
func (a *API) register(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req registerRequest
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	x, err := a.svc.Register(r.Context(), id, booking.RegisterRequest(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, toRegistrantView(x))
}

func (a *API) getRegistration(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("token") {
		a.fail(w, r, errNoLinkToken)
		return
	}
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	x, e, err := a.svc.RegistrationByLink(r.Context(), id, r.URL.Query().Get("token"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := toRegistrantView(x)
	ev := toEventResponse(e)
	out.Event = &ev
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, out)
}

// cancelRegistration is the registrant's cancellation with the manage
// link's token; without a token parameter it is an admin's, on someone's
// behalf.
func (a *API) cancelRegistration(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("token") {
		authn.Require(a.verifier, a.log)(http.HandlerFunc(a.cancelRegistrationAdmin)).ServeHTTP(w, r)
		return
	}
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req cancelRequest
	if r.ContentLength != 0 {
		if err := web.Decode(w, r, maxJSON, &req); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	x, err := a.svc.CancelRegistrationByLink(r.Context(), id, r.URL.Query().Get("token"), req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toRegistrantView(x))
}

// cancelRegistrationAdmin cancels for an admin; the body, with an optional
// reason, may be left out.
func (a *API) cancelRegistrationAdmin(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req cancelRequest
	if r.ContentLength != 0 {
		if err := web.Decode(w, r, maxJSON, &req); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	x, err := a.svc.CancelRegistration(r.Context(), a.actor(r), id, req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toRegistrationResponse(x))
}

func (a *API) listRegistrations(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f, err := parseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.Registrations(r.Context(), id, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toList(p, toRegistrationResponse))
}

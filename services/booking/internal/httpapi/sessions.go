package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
)

// bookRequest is the seed's booking form.
type bookRequest struct {
	Email         string `json:"email"`
	Name          string `json:"name"`
	Phone         string `json:"phone"`
	SessionType   string `json:"session_type"`
	PreferredDate string `json:"preferred_date"`
	Message       string `json:"message"`
}

// sessionResponse is a session as admins see it, with who last changed
// its status and why.
type sessionResponse struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	Phone         string `json:"phone"`
	SessionType   string `json:"session_type"`
	PreferredDate string `json:"preferred_date"`
	Message       string `json:"message"`
	Status        string `json:"status"`
	StatusReason  string `json:"status_reason,omitempty"`
	StatusBy      string `json:"status_changed_by,omitempty"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

func toSessionResponse(s booking.Session) sessionResponse {
	return sessionResponse{
		ID:            s.ID.String(),
		Email:         s.Email,
		Name:          s.Name,
		Phone:         s.Phone,
		SessionType:   string(s.SessionType),
		PreferredDate: s.PreferredDate.Format(time.DateOnly),
		Message:       s.Message,
		Status:        string(s.Status),
		StatusReason:  s.StatusReason,
		StatusBy:      s.StatusActor,
		CreatedAt:     s.CreatedAt.Format(time.RFC3339Nano),
		UpdatedAt:     s.UpdatedAt.Format(time.RFC3339Nano),
	}
}

// bookerSession is a session as its booker sees it: what they gave, its
// status and times. Who on the staff changed the status, and the reason
// they wrote, are for admins (issue 13, finding 6); a separate type, so
// that a field added for admins never reaches a booker by default.
type bookerSession struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	Phone         string `json:"phone"`
	SessionType   string `json:"session_type"`
	PreferredDate string `json:"preferred_date"`
	Message       string `json:"message"`
	Status        string `json:"status"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

func toBookerSession(s booking.Session) bookerSession {
	return bookerSession{
		ID:            s.ID.String(),
		Email:         s.Email,
		Name:          s.Name,
		Phone:         s.Phone,
		SessionType:   string(s.SessionType),
		PreferredDate: s.PreferredDate.Format(time.DateOnly),
		Message:       s.Message,
		Status:        string(s.Status),
		CreatedAt:     s.CreatedAt.Format(time.RFC3339Nano),
		UpdatedAt:     s.UpdatedAt.Format(time.RFC3339Nano),
	}
}

// HeaderIdempotencyKey makes a repeated booking submit one booking.
const HeaderIdempotencyKey = "Idempotency-Key"

// idempotencyKey is r's Idempotency-Key scoped to its route and to its
// client as seen through the trusted proxies: the same key from anyone
// else is another key.
func (a *API) idempotencyKey(r *http.Request) booking.IdempotencyKey {
	return booking.IdempotencyKey{
		Key:    r.Header.Get(HeaderIdempotencyKey),
		Route:  r.Method + " " + chi.RouteContext(r.Context()).RoutePattern(),
		Client: a.cfg.Clients.Addr(r),
	}
}

func (a *API) bookSession(w http.ResponseWriter, r *http.Request) {
	var req bookRequest
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, replayed, err := a.svc.Book(r.Context(), booking.BookRequest(req), a.idempotencyKey(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/api/sessions/"+s.ID.String())
	web.WriteJSON(w, http.StatusCreated, toBookerSession(s))
}

// getSession serves an admin, or the booker with the manage token; the
// token is checked before anything about the id is revealed.
func (a *API) getSession(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		authn.Require(a.verifier, a.log)(http.HandlerFunc(a.getSessionAdmin)).ServeHTTP(w, r)
		return
	}
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.svc.SessionByLink(r.Context(), id, token)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, toBookerSession(s))
}

func (a *API) getSessionAdmin(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.svc.Session(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toSessionResponse(s))
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.svc.Sessions(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toList(p, toSessionResponse))
}

type statusRequest struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func (a *API) setSessionStatus(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req statusRequest
	if err := web.Decode(w, r, maxJSON, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.svc.ChangeSessionStatus(r.Context(), a.actor(r), id, req.Status, req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toSessionResponse(s))
}

// errNoLinkToken answers a manage-link request that carries no token: the
// caller has not authenticated at all (401), unlike a token that does not
// open the record (403).
var errNoLinkToken = &web.Error{Status: http.StatusUnauthorized, Message: "Unauthorized",
	Detail: "this link needs the token from the email (?token=)"}

type cancelRequest struct {
	Reason string `json:"reason"`
}

// cancelSession is the booker's cancellation through the manage link; the
// body, with an optional reason, may be left out.
func (a *API) cancelSession(w http.ResponseWriter, r *http.Request) {
	if !r.URL.Query().Has("token") {
		a.fail(w, r, errNoLinkToken)
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
	s, err := a.svc.CancelSessionByLink(r.Context(), id, r.URL.Query().Get("token"), req.Reason)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toBookerSession(s))
}

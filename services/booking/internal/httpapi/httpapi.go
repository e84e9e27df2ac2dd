// Package httpapi is booking's HTTP transport: it decodes requests, checks
// admin tokens and manage links, calls the booking domain and encodes the
// answers and errors as JSON (CSV for exports).
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
	"github.com/acube/platform/services/booking/internal/images"
)

// Config is what the transport needs besides its collaborators.
type Config struct {
	// Clients finds a request's client address, for audit records and
	// to scope Idempotency-Keys.
	Clients *clientip.Resolver
	// MaxImageBytes bounds an event image upload.
	MaxImageBytes int64
	// Exports counts exported rows; nil counts nothing (tests).
	Exports *ExportMetrics
}

// API holds what the handlers need.
type API struct {
	svc      *booking.Service
	verifier *authn.Verifier
	images   *images.Store
	log      *slog.Logger
	cfg      Config
}

// New returns the booking API.
func New(svc *booking.Service, verifier *authn.Verifier, imgs *images.Store, log *slog.Logger, cfg Config) *API {
	return &API{svc: svc, verifier: verifier, images: imgs, log: log, cfg: cfg}
}

// Routes mounts every booking-owned path of DESIGN §2 on r, plus the
// manage-link and status routes a user expects (docs/booking.md).
func (a *API) Routes(r chi.Router) {
	// Public.
	r.Post("/api/sessions/book", a.bookSession)
	r.Get("/api/sessions/{id}", a.getSession) // admin, or the booker's token
	r.Post("/api/sessions/{id}/cancel", a.cancelSession)
	r.Get("/api/events", a.listEvents)
	r.Get("/api/events/{id}", a.getEvent)
	r.Get("/api/events/{id}/image", a.getEventImage)
	r.Post("/api/events/{id}/register", a.register)
	r.Get("/api/registrations/{id}", a.getRegistration)
	r.Post("/api/registrations/{id}/cancel", a.cancelRegistration) // the token, or admin
	r.Post("/api/volunteers", a.applyVolunteer)
	r.Post("/api/contact", a.sendContact)

	// Admin.
	r.Group(func(r chi.Router) {
		r.Use(authn.Require(a.verifier, a.log))
		r.Get("/api/sessions", a.listSessions)
		r.Patch("/api/sessions/{id}/status", a.setSessionStatus)
		r.Post("/api/events", a.createEvent)
		r.Patch("/api/events/{id}", a.updateEvent)
		r.Put("/api/events/{id}/image", a.putEventImage)
		r.Get("/api/events/{id}/registrations", a.listRegistrations)
		r.Get("/api/volunteers", a.listVolunteers)
		r.Patch("/api/volunteers/{id}/status", a.setVolunteerStatus)
		r.Get("/api/contact", a.listContacts)
		r.Patch("/api/contact/{id}/status", a.setContactStatus)
		r.Get("/api/admin/bulk/export/{entity}", a.export)
	})
}

// fail maps domain errors to statuses; it is the one place a request error
// is turned into a response (and, for a 500, logged).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		invalid  *booking.ValidationError
		capacity *booking.CapacityError
	)
	switch {
	case errors.As(err, &invalid):
		err = web.Invalid(invalid.Fields)
	case errors.Is(err, booking.ErrNotFound):
		err = web.NotFound("no such record")
	case errors.Is(err, booking.ErrBadLink):
		err = &web.Error{Status: http.StatusForbidden, Message: "Forbidden", Detail: booking.ErrBadLink.Error()}
	case errors.As(err, &capacity):
		err = &web.Error{Status: http.StatusConflict, Message: "Conflict", Detail: capacity.Error(),
			Fields: map[string]string{"capacity": fmt.Sprintf("must be at least %d, the seats already confirmed", capacity.Confirmed)}}
	case errors.Is(err, booking.ErrIllegalTransition),
		errors.Is(err, booking.ErrTooLate), errors.Is(err, booking.ErrEventPast), errors.Is(err, booking.ErrEventEnded):
		err = &web.Error{Status: http.StatusConflict, Message: "Conflict", Detail: conflictDetail(err)}
	case errors.Is(err, booking.ErrIdempotencyMismatch):
		err = &web.Error{Status: http.StatusUnprocessableEntity, Message: "Idempotency-Key reused",
			Detail: booking.ErrIdempotencyMismatch.Error()}
	}
	web.WriteError(w, r, a.log, err)
}

// conflictDetail is the innermost domain message of a conflict, without
// the "what we were doing" wrapping meant for logs.
func conflictDetail(err error) string {
	var te *booking.TransitionError
	switch {
	case errors.As(err, &te):
		return te.Error()
	case errors.Is(err, booking.ErrEventPast):
		return booking.ErrEventPast.Error()
	case errors.Is(err, booking.ErrEventEnded):
		return booking.ErrEventEnded.Error()
	case errors.Is(err, booking.ErrTooLate):
		return "too late to cancel"
	}
	return "the registration is already cancelled"
}

// pathID parses the {id} path parameter; a malformed id cannot name a
// record, so it is a 404 like any unknown id.
func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		return uuid.Nil, booking.ErrNotFound
	}
	return id, nil
}

// actor is the admin of an authenticated request and its client address.
func (a *API) actor(r *http.Request) booking.Actor {
	act := booking.Actor{ClientIP: a.cfg.Clients.Addr(r)}
	if c, ok := authn.FromContext(r.Context()); ok {
		act.ID, act.Email = c.AdminID(), c.Email
	}
	return act
}

// maxJSON bounds every JSON body: the largest form (5000-character texts
// in UTF-8) fits many times over.
const maxJSON = 64 << 10

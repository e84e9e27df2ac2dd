// Package httpapi is booking's HTTP transport: it decodes requests, calls
// the booking domain and encodes the answers and errors as JSON.
package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/booking"
)

// API holds what the handlers need.
type API struct {
	sessions *booking.Service
	log      *slog.Logger
}

// New returns the booking API.
func New(sessions *booking.Service, log *slog.Logger) *API {
	return &API{sessions: sessions, log: log}
}

// Routes mounts every booking-owned path of DESIGN §2 on r. Paths not built
// yet answer a JSON 501, so the gateway's routing can be tested end to end.
func (a *API) Routes(r chi.Router) {
	r.Post("/api/sessions/book", a.bookSession)
	r.Get("/api/sessions", web.NotImplemented)
	r.Get("/api/sessions/{id}", web.NotImplemented)
	r.Patch("/api/sessions/{id}/status", web.NotImplemented)

	r.Post("/api/events", web.NotImplemented)
	r.Get("/api/events", web.NotImplemented)
	r.Get("/api/events/{id}", web.NotImplemented)
	r.Post("/api/events/{id}/register", web.NotImplemented)
	r.Put("/api/events/{id}/image", web.NotImplemented)

	r.Post("/api/volunteers", web.NotImplemented)
	r.Get("/api/volunteers", web.NotImplemented)
	r.Post("/api/contact", web.NotImplemented)
	r.Get("/api/contact", web.NotImplemented)

	r.Get("/api/admin/bulk/export/{entity}", web.NotImplemented)
}

// fail maps domain errors to statuses; it is the one place a request error
// is turned into a response.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var invalid *booking.ValidationError
	switch {
	case errors.As(err, &invalid):
		err = web.Invalid(invalid.Fields)
	case errors.Is(err, booking.ErrNotFound):
		err = web.NotFound(err.Error())
	}
	web.WriteError(w, r, a.log, err)
}

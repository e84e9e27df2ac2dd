// Package httpapi is the exporter's HTTP transport: the audit export
// request, the export status, list and download. It decodes requests,
// calls the export domain and encodes answers and errors as JSON.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/export"
)

// Auth is how the API knows its caller. Require refuses a request without
// a valid admin access token (401/403); Admin reads the caller it let in.
type Auth struct {
	Require func(http.Handler) http.Handler
	Admin   func(ctx context.Context) (export.Admin, bool)
}

// AdminAuth checks admin access tokens with v: any admin role may export.
func AdminAuth(v *authn.Verifier, log *slog.Logger) Auth {
	return Auth{
		Require: authn.Require(v, log),
		Admin: func(ctx context.Context) (export.Admin, bool) {
			c, ok := authn.FromContext(ctx)
			if !ok {
				return export.Admin{}, false
			}
			return export.Admin{ID: c.AdminID(), Email: c.Email, Name: c.Name}, true
		},
	}
}

// Files opens export files for download: the EXPORTS bucket
// (*objstore.Bucket), which every replica reaches.
type Files interface {
	Open(ctx context.Context, name string) (*objstore.Object, error)
}

// API holds what the handlers need.
type API struct {
	exports *export.Service
	files   Files
	links   export.Links
	auth    Auth
	clients *clientip.Resolver
	log     *slog.Logger
}

// New returns the exporter API. clients finds the client address an
// export request is audited with: behind the gateway, the address it
// resolved, never the gateway's or the ingress's own.
func New(exports *export.Service, files Files, links export.Links, auth Auth, clients *clientip.Resolver, log *slog.Logger) *API {
	return &API{exports: exports, files: files, links: links, auth: auth, clients: clients, log: log}
}

// Routes mounts the exporter's paths on r, every one behind admin auth.
// The gateway routes these same paths here.
func (a *API) Routes(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(a.auth.Require)
		r.Post("/api/admin/bulk/export/audit-logs", a.requestExport)
		r.Get("/api/admin/exports", a.listExports)
		r.Get("/api/admin/exports/{id}", a.exportStatus)
		r.Get("/api/admin/exports/{id}/download", a.download)
	})
}

// exportID reads the {id} path parameter. Only the canonical 36-character
// form is accepted; anything else (dots, slashes, encodings) is simply an
// export that does not exist.
func exportID(r *http.Request) (uuid.UUID, error) {
	raw := chi.URLParam(r, "id")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return uuid.Nil, web.NotFound("no such export")
	}
	return id, nil
}

// fail maps domain errors to statuses; it is the one place a request error
// is turned into a response.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var invalid *audit.ValidationError
	switch {
	case errors.As(err, &invalid):
		err = web.Invalid(invalid.Fields)
	case errors.Is(err, export.ErrNotFound):
		err = web.NotFound("no such export, or it has expired")
	}
	web.WriteError(w, r, a.log, err)
}

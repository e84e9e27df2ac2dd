// Package httpapi is the admin service's HTTP transport: it decodes
// requests, calls the account, job, audit and dead-letter use cases and
// encodes the answers and errors as JSON.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
	"github.com/acube/platform/services/admin/internal/audit"
	"github.com/acube/platform/services/admin/internal/deadletter"
	"github.com/acube/platform/services/admin/internal/job"
	"github.com/acube/platform/services/admin/internal/token"
)

// AuditLog is the read side of the audit log.
type AuditLog interface {
	Query(ctx context.Context, f audit.Filter) ([]audit.Entry, *audit.Cursor, error)
}

// DeadLetterCounter counts dead-letter actions.
type DeadLetterCounter interface {
	DeadLetter(action string)
}

// Deps are what the handlers need.
type Deps struct {
	Accounts    *account.Service
	Jobs        *job.Service
	Audit       AuditLog
	DeadLetters *deadletter.Service
	Keys        *token.Keys
	Verifier    *authn.Verifier
	ClientIP    *ClientIP
	Metrics     DeadLetterCounter
	Log         *slog.Logger
	// SyncThreshold: bulk requests with at most this many ids wait for
	// their job, up to SyncWait.
	SyncThreshold int
	SyncWait      time.Duration
	// WaitPoll is how often a waiting bulk request looks at its job [50ms].
	WaitPoll time.Duration
}

// API holds the handlers.
type API struct {
	d Deps
}

// New returns the admin API.
func New(d Deps) *API {
	if d.WaitPoll <= 0 {
		d.WaitPoll = 50 * time.Millisecond
	}
	return &API{d: d}
}

// Routes mounts every admin-owned path on r.
func (a *API) Routes(r chi.Router) {
	r.Get("/api/admin/auth/jwks.json", a.jwks)
	r.Post("/api/admin/auth/login", a.login)
	r.Post("/api/admin/auth/refresh", a.refresh)
	r.Post("/api/admin/auth/logout", a.logout)

	anyRole := authn.Require(a.d.Verifier, a.d.Log)
	staff := authn.Require(a.d.Verifier, a.d.Log, authn.RoleAdmin, authn.RoleSuperadmin)
	super := authn.Require(a.d.Verifier, a.d.Log, authn.RoleSuperadmin)

	r.With(anyRole).Get("/api/admin/me", a.me)

	r.With(super).Get("/api/admin/admins", a.listAdmins)
	r.With(super).Post("/api/admin/admins", a.createAdmin)
	r.With(super).Post("/api/admin/admins/{id}/disable", a.disableAdmin)

	r.With(staff).Get("/api/admin/audit-logs", a.auditLogs)

	r.With(staff).Post("/api/admin/bulk/delete", a.bulk(job.ActionDelete))
	r.With(staff).Post("/api/admin/bulk/status-update", a.bulk(job.ActionStatusUpdate))
	r.With(staff).Get("/api/admin/jobs/{id}", a.getJob)

	r.With(super).Get("/api/admin/dead-letters", a.listDeadLetters)
	r.With(super).Get("/api/admin/dead-letters/{seq}", a.getDeadLetter)
	r.With(super).Post("/api/admin/dead-letters/{seq}/replay", a.replayDeadLetter)
	r.With(super).Delete("/api/admin/dead-letters/{seq}", a.discardDeadLetter)
}

// fail maps domain errors to statuses; it is the one place a request
// error is turned into a response (web.WriteError logs the 500s).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		invalidAcct *account.ValidationError
		invalidJob  *job.ValidationError
		throttled   *account.ThrottledError
	)
	switch {
	case errors.As(err, &invalidAcct):
		err = web.Invalid(invalidAcct.Fields)
	case errors.As(err, &invalidJob):
		err = web.Invalid(invalidJob.Fields)
	case errors.As(err, &throttled):
		secs := int(math.Ceil(throttled.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		err = web.Errorf(http.StatusTooManyRequests, "Too many login attempts", "try again in %d seconds", secs)
	case errors.Is(err, account.ErrInvalidCredentials):
		err = unauthorized(w, "Invalid credentials", "wrong email or password")
	case errors.Is(err, account.ErrInvalidRefresh), errors.Is(err, account.ErrRefreshReused):
		err = unauthorized(w, "Invalid refresh token", "log in again")
	case errors.Is(err, account.ErrForbidden):
		err = &web.Error{Status: http.StatusForbidden, Message: "Forbidden", Detail: err.Error()}
	case errors.Is(err, account.ErrEmailTaken), errors.Is(err, account.ErrSelf):
		err = &web.Error{Status: http.StatusConflict, Message: "Conflict", Detail: rootMessage(err)}
	case errors.Is(err, account.ErrNotFound), errors.Is(err, job.ErrNotFound), errors.Is(err, deadletter.ErrNotFound):
		err = web.NotFound(rootMessage(err))
	case errors.Is(err, deadletter.ErrNoSubject):
		err = &web.Error{Status: http.StatusConflict, Message: "Conflict", Detail: err.Error()}
	case errors.Is(err, deadletter.ErrBadFilter), errors.Is(err, audit.ErrBadCursor):
		err = web.Errorf(http.StatusBadRequest, "Bad request", "%s", rootMessage(err))
	}
	web.WriteError(w, r, a.d.Log, err)
}

func unauthorized(w http.ResponseWriter, msg, detail string) error {
	w.Header().Set("WWW-Authenticate", `Bearer realm="acube"`)
	return &web.Error{Status: http.StatusUnauthorized, Message: msg, Detail: detail}
}

// rootMessage is the innermost error's text: the domain sentinel, without
// the internal context wrapped around it.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// actor is the verified caller (Require put the claims in the context)
// with the client address.
func (a *API) actor(r *http.Request) account.Actor {
	c, _ := authn.FromContext(r.Context())
	if c == nil {
		return account.Actor{ClientIP: a.d.ClientIP.Of(r)}
	}
	return account.Actor{ID: c.AdminID(), Email: c.Email, Name: c.Name, Role: c.Role, ClientIP: a.d.ClientIP.Of(r)}
}

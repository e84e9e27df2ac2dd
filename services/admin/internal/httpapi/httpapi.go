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
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
	"github.com/acube/platform/services/admin/internal/audit"
	"github.com/acube/platform/services/admin/internal/deadletter"
	"github.com/acube/platform/services/admin/internal/job"
	"github.com/acube/platform/services/admin/internal/token"
)

// AuditLog is the read side of the audit log.
type AuditLog interface {
	Query(ctx context.Context, f audit.Filter) ([]audit.Entry, *keyset.Cursor, error)
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
	// Clients finds a request's client address for the audit trail and
	// the login throttles.
	Clients *clientip.Resolver
	Metrics DeadLetterCounter
	Log     *slog.Logger
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
	r.Post("/api/admin/auth/mfa", a.mfa)
	r.Post("/api/admin/auth/mfa/enroll", a.mfaEnroll)
	r.Post("/api/admin/auth/refresh", a.refresh)
	r.Post("/api/admin/auth/logout", a.logout)
	r.Post("/api/admin/invitations/accept", a.acceptInvitation)

	anyRole := a.require()
	staff := a.require(authn.RoleAdmin, authn.RoleSuperadmin)
	super := a.require(authn.RoleSuperadmin)

	r.With(anyRole).Get("/api/admin/me", a.me)
	r.With(anyRole).Post("/api/admin/me/password", a.changePassword)
	r.With(anyRole).Post("/api/admin/me/totp", a.startTOTP)
	r.With(anyRole).Post("/api/admin/me/totp/confirm", a.confirmTOTP)

	r.With(super).Get("/api/admin/admins", a.listAdmins)
	r.With(super).Post("/api/admin/admins", a.createAdmin)
	r.With(super).Post("/api/admin/admins/{id}/disable", a.disableAdmin)
	r.With(super).Post("/api/admin/admins/{id}/invitation", a.reinviteAdmin)
	r.With(super).Post("/api/admin/admins/{id}/totp/reset", a.resetTOTP)

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
	case errors.Is(err, account.ErrRefreshReplayed):
		err = unauthorized(w, "Invalid refresh token",
			"this refresh token was exchanged already; use the one you got for it, or log in again")
	case errors.Is(err, account.ErrSessionRevoked):
		w.Header().Set("WWW-Authenticate", `Bearer realm="acube", error="invalid_token"`)
		err = &web.Error{Status: http.StatusUnauthorized, Message: "Unauthorized",
			Detail: "the session of this access token has ended; log in again"}
	case errors.Is(err, account.ErrInvalidMFAToken):
		err = unauthorized(w, "Invalid MFA token", "the second step expired or was used; log in again")
	case errors.Is(err, account.ErrInvalidCode):
		err = unauthorized(w, "Invalid code", "the code is wrong, too old or used already")
	case errors.Is(err, account.ErrInvitationInvalid):
		err = &web.Error{Status: http.StatusBadRequest, Message: "Invalid invitation", Detail: rootMessage(err),
			Fields: map[string]string{"token": "is not a valid invitation token"}}
	case errors.Is(err, account.ErrInvitationUsed):
		err = &web.Error{Status: http.StatusGone, Message: "Invitation used", Detail: rootMessage(err)}
	case errors.Is(err, account.ErrInvitationExpired):
		err = &web.Error{Status: http.StatusGone, Message: "Invitation expired", Detail: rootMessage(err)}
	case errors.Is(err, account.ErrForbidden):
		err = &web.Error{Status: http.StatusForbidden, Message: "Forbidden", Detail: err.Error()}
	case errors.Is(err, account.ErrEmailTaken), errors.Is(err, account.ErrSelf), errors.Is(err, account.ErrNotInvited),
		errors.Is(err, account.ErrAccountDisabled), errors.Is(err, account.ErrTOTPEnrolled),
		errors.Is(err, account.ErrTOTPNotStarted):
		err = &web.Error{Status: http.StatusConflict, Message: "Conflict", Detail: rootMessage(err)}
	case errors.Is(err, account.ErrNotFound), errors.Is(err, job.ErrNotFound), errors.Is(err, deadletter.ErrNotFound):
		err = web.NotFound(rootMessage(err))
	case errors.Is(err, deadletter.ErrNoSubject):
		err = &web.Error{Status: http.StatusConflict, Message: "Conflict", Detail: err.Error()}
	case errors.Is(err, deadletter.ErrBadFilter):
		err = web.Invalid(map[string]string{"consumer": "must be a consumer name (letters, digits, _ and -)"})
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

type actorKey struct{}

// require lets a request through only with a valid access token (checked
// by authn.Require) whose session still stands in this service's database
// (account.Service.Authorize: not logged out, account not disabled, role
// unchanged), and whose role is one of roles (any when none). A revoked
// token is refused here at once, at every replica, whatever the other
// services have yet heard.
func (a *API) require(roles ...string) func(http.Handler) http.Handler {
	verify := authn.Require(a.d.Verifier, a.d.Log)
	return func(next http.Handler) http.Handler {
		return verify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := authn.FromContext(r.Context())
			if c == nil {
				a.fail(w, r, account.ErrSessionRevoked)
				return
			}
			act, err := a.d.Accounts.Authorize(r.Context(), c.AdminID(), c.SessionID, c.Role)
			if err != nil {
				if errors.Is(err, account.ErrSessionRevoked) {
					a.d.Log.DebugContext(r.Context(), "access token of an ended session refused", "admin_id", c.AdminID(),
						"session_id", c.SessionID, "request_id", web.RequestID(r.Context()))
				}
				a.fail(w, r, err)
				return
			}
			if len(roles) > 0 && !slices.Contains(roles, act.Role) {
				a.fail(w, r, account.ErrForbidden)
				return
			}
			act.ClientIP = a.d.Clients.Addr(r)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, act)))
		}))
	}
}

// actor is the caller as require found it, with the client address; on
// public routes, only the address.
func (a *API) actor(r *http.Request) account.Actor {
	if act, ok := r.Context().Value(actorKey{}).(account.Actor); ok {
		return act
	}
	return account.Actor{ClientIP: a.d.Clients.Addr(r)}
}

package authn

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/acube/platform/libs/web"
)

type ctxKey struct{}

// WithClaims stores c in ctx.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the claims Require stored, if any.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok && c != nil
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Require lets a request through only with a valid access token whose role
// is one of roles (any role when none is given). It answers 401 with
// WWW-Authenticate: Bearer for a missing or invalid token and 403 for a
// valid token of the wrong role, as libs/web JSON errors; a revoked token
// is invalid (401). While the verifier's Revocations are not current it
// answers 503 with Retry-After: 1, since the token might be revoked. The
// reason a token was refused is logged at debug level, never sent to the
// client.
func Require(v *Verifier, log *slog.Logger, roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := BearerToken(r)
			if !ok {
				unauthorized(w, `Bearer realm="acube"`, "send an admin access token as Authorization: Bearer")
				return
			}
			claims, err := v.Verify(r.Context(), token)
			if errors.Is(err, ErrRevocationsUnknown) {
				// Fail closed: without the revocations this token may
				// belong to a disabled or logged-out admin.
				log.DebugContext(r.Context(), "access token not checked: revocations unknown",
					"request_id", web.RequestID(r.Context()))
				w.Header().Set("Retry-After", "1")
				web.WriteJSON(w, http.StatusServiceUnavailable, &web.Error{Status: http.StatusServiceUnavailable,
					Message: "Service unavailable", Detail: "admin sessions cannot be checked right now; retry shortly"})
				return
			}
			if err != nil {
				log.DebugContext(r.Context(), "access token refused", "error", err.Error(),
					"request_id", web.RequestID(r.Context()))
				unauthorized(w, `Bearer realm="acube", error="invalid_token"`, "the access token is invalid or expired")
				return
			}
			if len(roles) > 0 && !slices.Contains(roles, claims.Role) {
				web.WriteJSON(w, http.StatusForbidden, &web.Error{Status: http.StatusForbidden,
					Message: "Forbidden", Detail: "your role may not do this"})
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
		})
	}
}

func unauthorized(w http.ResponseWriter, challenge, detail string) {
	w.Header().Set("WWW-Authenticate", challenge)
	web.WriteJSON(w, http.StatusUnauthorized, &web.Error{Status: http.StatusUnauthorized,
		Message: "Unauthorized", Detail: detail})
}

// Package web holds the HTTP plumbing every service shares: the JSON error
// shape of DESIGN §2, strict request decoding, request ids, metrics and
// access-log middleware, health and readiness probes and a server that
// shuts down gracefully.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
)

// Error is an error a client can act on, rendered as
// {"error": "...", "detail": "...", "fields": {"email": "..."}}.
type Error struct {
	Status  int               `json:"-"`
	Message string            `json:"error"`
	Detail  string            `json:"detail,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Message, e.Detail)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

// Errorf builds an Error with a formatted detail.
func Errorf(status int, message, detailFormat string, args ...any) *Error {
	return &Error{Status: status, Message: message, Detail: fmt.Sprintf(detailFormat, args...)}
}

// Invalid is the 422 for input that parsed but breaks the rules, one entry
// per offending field.
func Invalid(fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Message: "Validation failed", Fields: fields}
}

// NotFound is the JSON 404.
func NotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Message: "Not found", Detail: what}
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError renders err: an *Error as itself; a dependency that is down
// (see Unavailable) as a 503 the client may retry; anything else as a 500.
// The cause of a 503 or 500 is logged with the request id, never shown to
// the client.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if !errors.As(err, &e) && Unavailable(err) {
		log.WarnContext(r.Context(), "dependency unavailable", "method", r.Method, "path", r.URL.Path,
			"request_id", RequestID(r.Context()), "error", err.Error())
		w.Header().Set("Retry-After", "1")
		e = &Error{Status: http.StatusServiceUnavailable, Message: "Service unavailable",
			Detail: "a dependency is unavailable; retry shortly (request id " + RequestID(r.Context()) + ")"}
	}
	if e == nil {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", RequestID(r.Context()), "error", err.Error())
		e = &Error{Status: http.StatusInternalServerError, Message: "Internal server error",
			Detail: "request id " + RequestID(r.Context())}
	}
	WriteJSON(w, e.Status, e)
}

// Unavailable reports whether err says a dependency is down or overloaded
// rather than that the request was wrong or the code broken: a network
// error or timeout (connection refused while PostgreSQL restarts), or a
// database error of SQLSTATE class 08 (connection exception), 57P01-57P03
// (shutting down, cannot connect now) or 53 (insufficient resources). It
// needs no database driver: PostgreSQL errors expose SQLState().
func Unavailable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		code := st.SQLState()
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") ||
			code == "57P01" || code == "57P02" || code == "57P03"
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// NotImplemented answers routes that are in the API but not built yet.
func NotImplemented(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusNotImplemented, &Error{Status: http.StatusNotImplemented,
		Message: "Not implemented", Detail: r.Method + " " + r.URL.Path + " is not available yet"})
}

// NotFoundHandler is the JSON 404 for unknown routes.
func NotFoundHandler(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusNotFound, NotFound("no route for "+r.Method+" "+r.URL.Path))
}

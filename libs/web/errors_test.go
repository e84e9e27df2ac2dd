package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
)

// sqlStateError stands for a database error such as *pgconn.PgError, which
// exposes its SQLSTATE the same way.
type sqlStateError string

func (e sqlStateError) Error() string    { return "database error " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestWriteError(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantRetry  bool
	}{
		{name: "client error as itself", err: Invalid(map[string]string{"email": "is required"}), wantStatus: 422},
		{name: "wrapped client error", err: fmt.Errorf("book: %w", NotFound("session")), wantStatus: 404},
		{name: "database down: connection refused", err: fmt.Errorf("book session: %w", refused), wantStatus: 503, wantRetry: true},
		{name: "database shutting down", err: fmt.Errorf("insert: %w", sqlStateError("57P01")), wantStatus: 503, wantRetry: true},
		{name: "database starting up", err: sqlStateError("57P03"), wantStatus: 503, wantRetry: true},
		{name: "connection exception", err: sqlStateError("08006"), wantStatus: 503, wantRetry: true},
		{name: "timeout", err: fmt.Errorf("query: %w", context.DeadlineExceeded), wantStatus: 503, wantRetry: true},
		{name: "constraint violation is a bug", err: sqlStateError("23505"), wantStatus: 500},
		{name: "anything else", err: errors.New("boom"), wantStatus: 500},
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest(http.MethodPost, "/x", nil), log, tt.err)
			if w.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Retry-After") != ""; got != tt.wantRetry {
				t.Errorf("Retry-After present = %v, want %v", got, tt.wantRetry)
			}
		})
	}
}

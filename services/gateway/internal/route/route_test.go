package route

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestTableRoutesOnlyDocumentedOperations: the generated table has no
// catch-all, so a router built from it (as the gateway builds its own)
// answers an undocumented path, even under /api/admin/, with its 404 and
// a documented path with another method with its 405.
func TestTableRoutesOnlyDocumentedOperations(t *testing.T) {
	t.Parallel()
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusMethodNotAllowed) })
	seen := map[string]bool{}
	for _, rt := range Table() {
		if rt.Method == AnyMethod || strings.Contains(rt.Pattern, "*") {
			t.Errorf("%s is a catch-all", rt.Key())
		}
		if seen[rt.Key()] {
			t.Errorf("%s twice", rt.Key())
		}
		seen[rt.Key()] = true
		r.Method(rt.Method, rt.Pattern, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(rt.Owner))
		}))
	}
	tests := []struct {
		method, path string
		wantStatus   int
		wantOwner    string
	}{
		{method: "POST", path: "/api/admin/bulk/export/audit-logs", wantStatus: 200, wantOwner: "exporter"},
		{method: "GET", path: "/api/admin/bulk/export/sessions", wantStatus: 200, wantOwner: "booking"},
		{method: "GET", path: "/api/admin/exports", wantStatus: 200, wantOwner: "exporter"},
		{method: "GET", path: "/api/admin/admins", wantStatus: 200, wantOwner: "admin"},
		{method: "GET", path: "/api/admin/no-such-thing", wantStatus: 404},
		{method: "GET", path: "/api/admin/exports/1/2/3", wantStatus: 404},
		{method: "GET", path: "/api/nothing", wantStatus: 404},
		{method: "DELETE", path: "/api/admin/admins", wantStatus: 405},
		{method: "PUT", path: "/api/events", wantStatus: 405},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantOwner {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, rec.Code, rec.Body, tt.wantStatus, tt.wantOwner)
		}
	}
	for _, rt := range Served() {
		if seen[rt.Key()] {
			t.Errorf("%s is both proxied and served by the gateway", rt.Key())
		}
	}
}

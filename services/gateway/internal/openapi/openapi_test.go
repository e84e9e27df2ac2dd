package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/acube/platform/libs/apispec"
	"github.com/acube/platform/services/gateway"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/route"
)

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument(apispec.Document())
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Errorf("version %s, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
		}
	}
}

// spec is the part of the document these tests read.
type spec struct {
	Paths map[string]map[string]struct {
		Tier      string                     `json:"x-ratelimit-tier"`
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"paths"`
}

func load(t *testing.T) spec {
	t.Helper()
	var s spec
	if err := json.Unmarshal(apispec.Document(), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDocumentCoversRoutes: every route the gateway proxies is described,
// with the tier the rate-limit table gives it, and every limited operation
// documents the gateway's 429.
func TestDocumentCoversRoutes(t *testing.T) {
	t.Parallel()
	s := load(t)
	var keys []string
	for _, r := range route.Table() {
		keys = append(keys, r.Key())
	}
	table, err := ratelimit.Load(gateway.DefaultRateLimits(), ratelimit.Overrides{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range route.Table() {
		if r.Method == route.AnyMethod {
			continue
		}
		op, ok := s.Paths[r.Pattern][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("%s %s is not in the document", r.Method, r.Pattern)
			continue
		}
		if want := table.ForRoute(r.Key()).Name; op.Tier != want {
			t.Errorf("%s %s: document says tier %q, table says %q", r.Method, r.Pattern, op.Tier, want)
		}
	}
	for path, ops := range s.Paths {
		for method, op := range ops {
			if !strings.HasPrefix(path, "/api/") {
				t.Errorf("%s is outside /api", path)
			}
			if op.Tier == "" {
				continue
			}
			for _, code := range []string{"429", "502", "503", "504"} {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s %s does not document the gateway's %s", method, path, code)
				}
			}
		}
	}
}

func TestMount(t *testing.T) {
	t.Parallel()
	r := chi.NewRouter()
	Mount(r)
	tests := []struct {
		path, wantType, wantBody string
	}{
		{path: "/api/openapi.json", wantType: "application/json", wantBody: `"openapi": "3.1.0"`},
		{path: "/api/docs", wantType: "text/html; charset=utf-8", wantBody: "swagger-ui"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tt.wantType || !strings.Contains(rec.Body.String(), tt.wantBody) {
			t.Errorf("GET %s: %d %q", tt.path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}

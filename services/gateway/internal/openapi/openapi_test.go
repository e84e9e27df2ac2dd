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
		Owner       string                     `json:"x-owner"`
		Security    *[]json.RawMessage         `json:"security"`
		RequestBody json.RawMessage            `json:"requestBody"`
		Responses   map[string]json.RawMessage `json:"responses"`
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

// TestDocumentEdgeResponses: every operation says who may call it and
// documents the errors the gateway itself can answer it with: 431 always;
// 429 and the upstream failures (502, 503, 504) when it is proxied; 408,
// 411, 413 and 415 when it takes a body. The route table and the rate-limit
// files are generated from the same document (tools/cmd/apigen,
// TestGeneratedFilesAreCurrent), so they cannot disagree with it.
func TestDocumentEdgeResponses(t *testing.T) {
	t.Parallel()
	for path, ops := range load(t).Paths {
		for method, op := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			if op.Security == nil {
				t.Errorf("%s %s has no security (want [] when it is public)", method, path)
			}
			want := []string{"431"}
			if op.Owner != string(route.Gateway) {
				want = append(want, "429", "502", "503", "504")
			}
			if op.RequestBody != nil {
				want = append(want, "408", "411", "413", "415")
			}
			for _, code := range want {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s %s does not document the gateway's %s", method, path, code)
				}
			}
		}
	}
}

// TestMountServesTheGatewaysOperations: Mount answers exactly the
// operations the document gives the gateway (x-owner: gateway).
func TestMountServesTheGatewaysOperations(t *testing.T) {
	t.Parallel()
	r := chi.NewRouter()
	Mount(r)
	served := map[string]bool{}
	_ = chi.Walk(r, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served[method+" "+pattern] = true
		return nil
	})
	for _, rt := range route.Served() {
		if !served[rt.Key()] {
			t.Errorf("the document gives %s to the gateway, Mount does not serve it", rt.Key())
		}
		delete(served, rt.Key())
	}
	for key := range served {
		t.Errorf("Mount serves %s, which the document does not give to the gateway", key)
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

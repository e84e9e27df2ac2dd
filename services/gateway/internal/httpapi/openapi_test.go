package httpapi

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/acube/platform/libs/apispec"
	"github.com/acube/platform/services/gateway/internal/ratelimit"
	"github.com/acube/platform/services/gateway/internal/route"
)

// TestResponsesMatchOpenAPI sends real requests through the gateway and
// checks every answer against the served OpenAPI document: the gateway's
// own (413, 429, 502/503/504, the document itself) and booking's 201 as a
// booking-shaped upstream gives it.
func TestResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument(apispec.Document())
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g := newGateway(t, gwOptions{maxBody: 2000, overrides: ratelimit.Overrides{Windows: map[string]string{"auth": "1/minute"}}})
	down := newGateway(t, gwOptions{noLimits: true, upstreams: map[route.Owner]string{route.Admin: "http://127.0.0.1:1"}})
	tests := []struct {
		name, base, method, path, body string
		wantStatus                     int
	}{
		{name: "booking created", base: g.URL, method: "POST", path: "/api/sessions/book", body: strings.Replace(seedBooking, "2025", "2031", 1), wantStatus: 201},
		{name: "login allowed", base: g.URL, method: "POST", path: "/api/admin/auth/login", body: seedLogin, wantStatus: 200},
		{name: "login rate limited", base: g.URL, method: "POST", path: "/api/admin/auth/login", body: seedLogin, wantStatus: 429},
		{name: "body too large", base: g.URL, method: "POST", path: "/api/contact", body: `{"message":"` + strings.Repeat("x", 3000) + `"}`, wantStatus: 413},
		{name: "upstream down", base: down.URL, method: "POST", path: "/api/admin/bulk/delete", body: `{"entity":"sessions","ids":["a"]}`, wantStatus: 503},
		{name: "the document", base: g.URL, method: "GET", path: "/api/openapi.json", wantStatus: 200},
		{name: "the docs page", base: g.URL, method: "GET", path: "/api/docs", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, tt.base+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, b)
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			if ok, verrs := v.ValidateHttpResponse(req, resp); !ok {
				for _, e := range verrs {
					t.Errorf("%s: %s", e.Message, e.Reason)
				}
			}
		})
	}

	// The gateway's 404 for unknown routes is on no path of the document;
	// its body must still be the document's Error schema.
	resp, b := do(t, "GET", g.URL+"/api/no/such/thing", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
	model, errs2 := doc.BuildV3Model()
	if errs2 != nil {
		t.Fatal(errs2)
	}
	errSchema := model.Model.Components.Schemas.GetOrZero("Error").Schema()
	validateSchema(t, errSchema, b)
}

func validateSchema(t *testing.T, schema *base.Schema, body []byte) {
	t.Helper()
	sv := schema_validation.NewSchemaValidatorWithLogger(slog.New(slog.DiscardHandler))
	if ok, errs := sv.ValidateSchemaBytes(schema, body); !ok {
		for _, e := range errs {
			t.Errorf("body %s: %s: %s", body, e.Message, e.Reason)
		}
	}
}

package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acube/platform/libs/authn"
)

// TestIntegrationAdminRoutesNeedAToken checks every admin route (and the
// admin sides of GET /api/sessions/{id} and POST
// /api/registrations/{id}/cancel) refuses requests without a valid
// admin token, and lets a valid one through.
func TestIntegrationAdminRoutesNeedAToken(t *testing.T) {
	h := newHarness(t)
	const id = "0190a000-0000-7000-8000-000000000001"
	routes := []struct{ method, path, body string }{
		{"GET", "/api/sessions", ""},
		{"GET", "/api/sessions/" + id, ""},
		{"PATCH", "/api/sessions/" + id + "/status", `{"status":"confirmed"}`},
		{"POST", "/api/events", `{}`},
		{"PATCH", "/api/events/" + id, `{"capacity":3}`},
		{"POST", "/api/registrations/" + id + "/cancel", `{"reason":"r"}`}, // without ?token=, an admin request
		{"PUT", "/api/events/" + id + "/image", `x`},
		{"GET", "/api/events/" + id + "/registrations", ""},
		{"GET", "/api/volunteers", ""},
		{"PATCH", "/api/volunteers/" + id + "/status", `{"status":"approved"}`},
		{"GET", "/api/contact", ""},
		{"PATCH", "/api/contact/" + id + "/status", `{"status":"read"}`},
		{"GET", "/api/admin/bulk/export/sessions", ""},
	}
	forged := h.iss.Forge(t, authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "acube-admin", Subject: "x", Audience: jwt.ClaimStrings{"acube"},
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}, Role: authn.RoleAdmin})
	auths := []struct {
		name       string
		header     string
		wantStatus int
	}{
		{name: "no token", wantStatus: http.StatusUnauthorized},
		{name: "garbage", header: "Bearer not.a.jwt", wantStatus: http.StatusUnauthorized},
		{name: "basic auth", header: "Basic YWRtaW46YWRtaW4=", wantStatus: http.StatusUnauthorized},
		{name: "forged signature", header: "Bearer " + forged, wantStatus: http.StatusUnauthorized},
		{name: "expired", header: "Bearer " + h.token(func(c *authn.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		}), wantStatus: http.StatusUnauthorized},
		{name: "wrong audience", header: "Bearer " + h.token(func(c *authn.Claims) {
			c.Audience = jwt.ClaimStrings{"other"}
		}), wantStatus: http.StatusUnauthorized},
		{name: "wrong issuer", header: "Bearer " + h.token(func(c *authn.Claims) { c.Issuer = "evil" }), wantStatus: http.StatusUnauthorized},
		{name: "valid", header: "Bearer " + h.admin},
	}
	for _, rt := range routes {
		for _, a := range auths {
			t.Run(rt.method+" "+rt.path+"/"+a.name, func(t *testing.T) {
				var res response
				if a.header == "" {
					res = h.do(rt.method, rt.path, rt.body)
				} else {
					res = h.do(rt.method, rt.path, rt.body, "Authorization", a.header)
				}
				if a.wantStatus == 0 {
					if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden || res.status >= 500 {
						t.Fatalf("valid token: status %d %s", res.status, res.body)
					}
					return
				}
				if res.status != a.wantStatus {
					t.Fatalf("status %d, want %d: %s", res.status, a.wantStatus, res.body)
				}
			})
		}
	}
}

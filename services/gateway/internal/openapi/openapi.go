// Package openapi serves the one OpenAPI 3.1 document of the whole public
// and admin API (libs/apispec) at /api/openapi.json, and Swagger UI at /api/docs for those who expect
// FastAPI's. Swagger UI is a pinned copy embedded in the binary (assets/,
// its README says which version and how to refresh it): the page loads
// nothing from another origin, works offline, and its
// Content-Security-Policy allows scripts from the gateway only.
package openapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/apispec"
	"github.com/acube/platform/libs/web"
)

// The docs page and Swagger UI's files; go:embed fails the build if one
// is missing.
var (
	//go:embed assets/index.html
	indexHTML []byte
	//go:embed assets/init.js
	initJS []byte
	//go:embed assets/swagger-ui-bundle.js
	swaggerUIBundle []byte
	//go:embed assets/swagger-ui.css
	swaggerUICSS []byte
)

// DocsCSP is the docs page's Content-Security-Policy: scripts, styles,
// the document and Swagger UI's calls ("Try it out") from this origin
// only, no inline script, no plugins, no framing. Swagger UI renders
// icons as data: images and sets element styles from script (which CSP
// does not govern); it needs no inline <style> or style attributes
// (the headless-browser test fails on any CSP violation).
const DocsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file as it is served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

func newAsset(body []byte, contentType string) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// Mount adds GET /api/openapi.json, the docs page GET /api/docs and its
// assets GET /api/docs/{file} to r.
func Mount(r chi.Router) {
	doc := apispec.Document()
	page := newAsset(indexHTML, "text/html; charset=utf-8")
	files := map[string]asset{
		"init.js":              newAsset(initJS, "text/javascript; charset=utf-8"),
		"swagger-ui-bundle.js": newAsset(swaggerUIBundle, "text/javascript; charset=utf-8"),
		"swagger-ui.css":       newAsset(swaggerUICSS, "text/css; charset=utf-8"),
	}
	r.Get("/api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
	r.Get("/api/docs", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", DocsCSP)
		h.Set("Referrer-Policy", "no-referrer")
		serve(w, r, page)
	})
	r.Get("/api/docs/{file}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[chi.URLParam(r, "file")]
		if !ok {
			web.NotFoundHandler(w, r)
			return
		}
		serve(w, r, a)
	})
}

// serve answers with a, revalidated by its ETag on every load (no-cache
// stores it but asks first), so an upgraded gateway's assets replace the
// old at once.
func serve(w http.ResponseWriter, r *http.Request, a asset) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, no-cache")
	h.Set("Etag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// Package openapi serves the one OpenAPI 3.1 document of the whole public
// and admin API (DESIGN §2), written by hand and embedded, at
// /api/openapi.json, and a docs page at /api/docs for those who expect
// FastAPI's.
package openapi

import (
	_ "embed"
	"net/http"

	"github.com/go-chi/chi/v5"
)

//go:embed openapi.json
var document string

// Document returns the OpenAPI document.
func Document() []byte { return []byte(document) }

// Mount adds GET /api/openapi.json and GET /api/docs to r.
func Mount(r chi.Router) {
	doc, html := Document(), []byte(docsPage)
	r.Get("/api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
	r.Get("/api/docs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(html)
	})
}

// docsPage is Swagger UI, as FastAPI serves it, loaded from the CDN by the
// reader's browser; without it the page still links the raw document.
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>A-Cube API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<noscript>This page needs JavaScript. The API is described by <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
<div id="swagger-ui"><p>The API is described by <a href="/api/openapi.json">/api/openapi.json</a>.</p></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>
window.onload = function () {
  if (window.SwaggerUIBundle) {
    SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
  }
};
</script>
</body>
</html>
`

package web

import (
	"net/http"
)

// Response headers every service sends (docs/architecture.md, "Response
// headers").
const (
	// NoStore is the Cache-Control of every response whose handler does
	// not choose another: nothing the API answers may sit in a browser's,
	// a proxy's or a CDN's cache unless a handler says it is public.
	NoStore = "no-store"
	// APIContentSecurityPolicy is the Content-Security-Policy of every
	// response whose handler does not choose another: an API answer loads
	// nothing and is framed by nobody, so a JSON body a browser is tricked
	// into rendering as a page cannot run anything.
	APIContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"
)

// SecurityHeaders gives every response X-Content-Type-Options: nosniff
// (a browser never guesses a type other than the one sent), and the
// defaults Cache-Control: no-store and APIContentSecurityPolicy to every
// response whose handler set neither. A handler opts out by setting its
// own: public, cacheable answers (an event's image, the JWKS, the API
// document, Swagger UI's assets) set Cache-Control; the docs page sets
// its CSP. The defaults are filled in when the status is written, after
// the handler (or the gateway's reverse proxy, which copies the service's
// headers) had its say, so what a service sends passes the gateway as it
// was and is never doubled.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &headerWriter{ResponseWriter: w}
		next.ServeHTTP(hw, r)
		// A handler that wrote nothing: net/http sends the headers
		// after this returns.
		hw.defaults()
	})
}

// headerWriter fills in the default headers before the first status line.
type headerWriter struct {
	http.ResponseWriter
	done bool
}

func (w *headerWriter) defaults() {
	if w.done {
		return
	}
	w.done = true
	h := w.ResponseWriter.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if _, ok := h["Cache-Control"]; !ok {
		h.Set("Cache-Control", NoStore)
	}
	if _, ok := h["Content-Security-Policy"]; !ok {
		h.Set("Content-Security-Policy", APIContentSecurityPolicy)
	}
}

func (w *headerWriter) WriteHeader(code int) {
	// 1xx answers (103 Early Hints) are not the response; its headers
	// come with the final status.
	if code >= 200 {
		w.defaults()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	w.defaults()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush
// for streamed exports and the gateway's proxied streams).
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

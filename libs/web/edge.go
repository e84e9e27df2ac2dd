package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// MaxHeaderBytes is the most a request line and its headers may take
// before the request gets a JSON 431 (HeaderLimits). The server's own cap
// (NewServer) is HardMaxHeaderBytes: net/http answers past that itself,
// with a plain-text 431, and we want ours to be the one clients meet.
const MaxHeaderBytes = 32 << 10

// HardMaxHeaderBytes is http.Server.MaxHeaderBytes of every server: four
// times MaxHeaderBytes, so headers between the two get the API's JSON 431
// and only a client sending more than this (plus net/http's 4 KiB slack)
// gets net/http's text/plain one and a closed connection.
const HardMaxHeaderBytes = 4 * MaxHeaderBytes

// methods are the methods a 405's Allow header may list, in the order it
// lists them.
var methods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// MethodNotAllowedHandler is the JSON 405, with the Allow header RFC 9110
// §15.5.6 requires: the methods the router has for the path, asked of the
// chi router that routed the request. HEAD and OPTIONS are answered the
// same way where no route declares them: the API document has no HEAD or
// OPTIONS operation, and an Allow header is the standard's answer to both
// "what may I do here" questions. A method chi does not know on a path
// with no route at all is a 404, not a 405 with an empty Allow.
func MethodNotAllowedHandler(w http.ResponseWriter, r *http.Request) {
	allowed := AllowedMethods(r)
	if len(allowed) == 0 {
		NotFoundHandler(w, r)
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	WriteJSON(w, http.StatusMethodNotAllowed, &Error{Status: http.StatusMethodNotAllowed,
		Message: "Method not allowed", Detail: r.Method + " is not allowed on " + r.URL.Path + "; use " + strings.Join(allowed, ", ")})
}

// AllowedMethods lists the methods the chi router that is routing r has a
// route for at r's path, in the order of methods; nil outside a chi router.
func AllowedMethods(r *http.Request) []string {
	rc := chi.RouteContext(r.Context())
	if rc == nil || rc.Routes == nil {
		return nil
	}
	// The top router's path, as chi routes it (the raw path when the
	// request has encoded characters).
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allowed []string
	for _, m := range methods {
		if rc.Routes.Match(chi.NewRouteContext(), m, path) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// HeaderLimits gives JSON errors for requests that net/http accepted but
// the API does not, before any handler reads them:
//   - 431 when the request line and headers pass MaxHeaderBytes;
//   - 411 for an HTTP/1.0 request of a method with a body but without
//     Content-Length: HTTP/1.0 cannot send chunks, and net/http reads
//     such a body as empty, so it would be lost without a word;
//   - 415 for a body with a Content-Encoding other than identity: no
//     service decompresses request bodies, and the decoded JSON of a
//     gzip stream is not what the client meant (RFC 9110 §15.5.16 asks
//     for Accept-Encoding on the answer).
func HeaderLimits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := HeaderSize(r); n > MaxHeaderBytes {
			w.Header().Set("Connection", "close")
			WriteJSON(w, http.StatusRequestHeaderFieldsTooLarge, &Error{Status: http.StatusRequestHeaderFieldsTooLarge,
				Message: "Request headers too large",
				Detail:  "the request line and headers may take at most " + strconv.Itoa(MaxHeaderBytes) + " bytes, not " + strconv.Itoa(n)})
			return
		}
		if !r.ProtoAtLeast(1, 1) && takesBody(r.Method) && r.Header.Get("Content-Length") == "" {
			w.Header().Set("Connection", "close")
			WriteJSON(w, http.StatusLengthRequired, &Error{Status: http.StatusLengthRequired,
				Message: "Length required", Detail: "an HTTP/1.0 request body needs a Content-Length header"})
			return
		}
		if err := CheckContentEncoding(r); err != nil {
			w.Header().Set("Accept-Encoding", "identity")
			WriteJSON(w, err.Status, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckContentEncoding refuses a request body with a Content-Encoding
// other than identity with a 415.
func CheckContentEncoding(r *http.Request) *Error {
	if r.ContentLength == 0 {
		return nil
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, coding := range strings.Split(v, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				return &Error{Status: http.StatusUnsupportedMediaType, Message: "Unsupported media type",
					Detail: "request bodies are not decoded: send them without Content-Encoding (got " + strconv.Quote(c) + ")"}
			}
		}
	}
	return nil
}

func takesBody(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return false
}

// HeaderSize is the size of r's request line and header fields as they
// came over the wire (HTTP/1.1 framing), the quantity net/http's
// MaxHeaderBytes bounds.
func HeaderSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// RequestTimeout is the JSON 408 for a request whose body stopped
// arriving.
func RequestTimeout() *Error {
	return &Error{Status: http.StatusRequestTimeout, Message: "Request timeout",
		Detail: "the request body stopped arriving before its declared end"}
}

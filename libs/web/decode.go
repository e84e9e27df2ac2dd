package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
)

// DefaultMaxBody bounds a JSON request body unless a route says otherwise.
const DefaultMaxBody = 64 << 10

// Decode reads one JSON object from r's body into dst, strictly: the body
// must be application/json without a Content-Encoding, at most maxBytes
// long, a single value of Unicode text, and name only fields dst has.
// Every failure is an *Error saying what and where.
func Decode(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &Error{Status: http.StatusUnsupportedMediaType, Message: "Unsupported media type",
				Detail: "send the body as application/json"}
		}
	}
	if e := CheckContentEncoding(r); e != nil {
		return e
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	return DecodeJSON(body, maxBytes, dst)
}

// DecodeJSON is Decode without the HTTP parts, for fuzzing and reuse. It
// reads the whole body first (at most maxBytes), so a body that stops
// arriving is a 408 and one that is too long a 413 before any parsing.
func DecodeJSON(body io.Reader, maxBytes int64, dst any) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	b, err := io.ReadAll(io.LimitReader(body, maxBytes+1))
	if err != nil {
		return readError(err, maxBytes)
	}
	if int64(len(b)) > maxBytes {
		return tooLarge(maxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Error{Status: http.StatusBadRequest, Message: "Malformed JSON",
			Detail: "the body must hold a single JSON object"}
	}
	if e := checkText(b); e != nil {
		return e
	}
	return nil
}

func tooLarge(maxBytes int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Message: "Request body too large",
		Detail: fmt.Sprintf("the body may be at most %d bytes", maxBytes)}
}

// readError maps a failure to read the body: past the limit (413), a
// read deadline (the server's ReadTimeout: 408), or a body that ended
// before its declared length.
func readError(err error, maxBytes int64) error {
	var (
		mbe *http.MaxBytesError
		ne  net.Error
	)
	switch {
	case errors.As(err, &mbe):
		return tooLarge(maxBytes)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return RequestTimeout()
	default:
		return &Error{Status: http.StatusBadRequest, Message: "Malformed JSON", Detail: "the body ends too early"}
	}
}

func decodeError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &Error{Status: http.StatusBadRequest, Message: "Malformed JSON", Detail: "the body is empty"}
	case errors.As(err, &syntax):
		return &Error{Status: http.StatusBadRequest, Message: "Malformed JSON",
			Detail: fmt.Sprintf("syntax error at byte %d", syntax.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Message: "Malformed JSON", Detail: "the body ends too early"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &Error{Status: http.StatusBadRequest, Message: "Malformed JSON",
				Detail: fmt.Sprintf("the body must be a JSON object, not %s", typ.Value)}
		}
		return &Error{Status: http.StatusBadRequest, Message: "Wrong type",
			Detail: fmt.Sprintf("field %s must be %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value),
			Fields: map[string]string{field: "must be " + jsonKind(typ.Type.Kind().String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Status: http.StatusBadRequest, Message: "Unknown field",
			Detail: fmt.Sprintf("field %s is not accepted here", name), Fields: map[string]string{name: "unknown field"}}
	default:
		return &Error{Status: http.StatusBadRequest, Message: "Malformed JSON", Detail: err.Error()}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return "a number"
	}
}

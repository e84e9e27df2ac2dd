// Package apitest checks real HTTP traffic against the OpenAPI document
// (libs/apispec) in tests: a middleware for a service's handler, a
// transport for a client of the gateway. Every exchange must be one the
// document allows, so a test that passes also shows the contract holds;
// see docs/api-contract.md.
//
// The rules, for every request and the response it got:
//   - a request that matches no documented operation (path or method)
//     gets a JSON 404 or 405 error;
//   - a request the document says is invalid (a deliberate bad-input test)
//     gets a 4xx, never a 2xx, documented for the operation;
//   - every response has a documented status and content type, and its
//     body matches the schema.
//
// Bodies are read up to BodyCap for validation; a longer body (a CSV
// export of a million rows) is checked for status and content type only,
// and streams through untouched: the validator keeps a copy of the first
// BodyCap bytes, never the whole body.
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	oaerrors "github.com/pb33f/libopenapi-validator/errors"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/acube/platform/libs/apispec"
)

// BodyCap is how much of a request or response body is validated.
const BodyCap = 1 << 20

// Validator validates exchanges against the document and reports
// violations to its test. It is safe for concurrent use.
type Validator struct {
	tb testing.TB
	*compiled
}

// compiled is the parsed document and the library's validator over it.
type compiled struct {
	model *v3.Document
	paths []path

	// mu serialises the library's validator: its schema caches are not
	// documented as safe for concurrent use, and tests are not a hot path.
	mu sync.Mutex
	v  validator.Validator
}

// path is one documented path template, split into segments.
type path struct {
	template string
	segments []string
	item     *v3.PathItem
}

// shared is the document compiled once per test binary. This is the
// package's one piece of package-level state, on purpose: compiling takes
// about a second of CPU, and a service's tests call New in every test;
// the document is embedded, so every compilation would be the same.
var shared = sync.OnceValues(compile)

func compile() (*compiled, error) {
	doc, err := libopenapi.NewDocument(apispec.Document())
	if err != nil {
		return nil, fmt.Errorf("parse the OpenAPI document: %w", err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the OpenAPI model: %w", err)
	}
	c := &compiled{model: &m.Model, v: validator.NewValidatorFromV3Model(&m.Model, config.WithFormatAssertions())}
	for p := m.Model.Paths.PathItems.First(); p != nil; p = p.Next() {
		c.paths = append(c.paths, path{template: p.Key(), segments: strings.Split(p.Key(), "/"), item: p.Value()})
	}
	return c, nil
}

// New returns a validator of apispec.Document() that reports to tb; tb.Fatal
// when the document does not parse. Violations of the Handler and
// Transport are reported with tb.Errorf.
func New(tb testing.TB) *Validator {
	tb.Helper()
	c, err := shared()
	if err != nil {
		tb.Fatalf("apitest: %v", err)
	}
	return &Validator{tb: tb, compiled: c}
}

// exchange is one request and its response as the validator sees them:
// the bodies up to BodyCap, and whether they were longer.
type exchange struct {
	req          *http.Request
	reqBody      []byte
	reqTruncated bool
	status       int
	header       http.Header
	body         []byte
	truncated    bool
}

// Check validates req and resp and returns the violations instead of
// reporting them: the recording form, for tests of the validator and for
// callers with their own reporting. It reads both bodies (up to BodyCap)
// and puts them back, so they can be read again.
func (v *Validator) Check(req *http.Request, resp *http.Response) []string {
	x := exchange{req: req, status: resp.StatusCode, header: resp.Header}
	if req.Body != nil {
		req.Body, x.reqBody, x.reqTruncated = peek(req.Body)
	}
	if resp.Body != nil {
		resp.Body, x.body, x.truncated = peek(resp.Body)
	}
	return v.check(x)
}

// peek reads up to BodyCap+1 bytes of body and returns a body that yields
// the same bytes, the bytes read (at most BodyCap) and whether there were
// more.
func peek(body io.ReadCloser) (io.ReadCloser, []byte, bool) {
	head, _ := io.ReadAll(io.LimitReader(body, BodyCap+1))
	rest := struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), body), body}
	if len(head) > BodyCap {
		return rest, head[:BodyCap], true
	}
	return rest, head, false
}

// check returns the violations of one exchange.
func (v *Validator) check(x exchange) []string {
	var out []string
	fail := func(format string, args ...any) { out = append(out, v.describe(x, fmt.Sprintf(format, args...))) }

	template, op := v.find(x.req.Method, x.req.URL.Path)
	if op == nil {
		if x.status != http.StatusNotFound && x.status != http.StatusMethodNotAllowed {
			fail("no documented operation is %s %s; want a JSON 404 or 405", x.req.Method, x.req.URL.Path)
		} else if msg := jsonError(x); msg != "" && x.req.Method != http.MethodHead {
			// An answer to HEAD has the headers of the error but never
			// its body (RFC 9110 §9.3.2): only the status is checked.
			fail("the %d for an undocumented operation %s", x.status, msg)
		}
		return out
	}
	name := op.OperationId

	v.mu.Lock()
	defer v.mu.Unlock()
	var invalid []string
	if !x.reqTruncated {
		r := x.req.Clone(x.req.Context())
		r.Body = io.NopCloser(bytes.NewReader(x.reqBody))
		if ok, errs := v.v.ValidateHttpRequestSync(r); !ok {
			for _, e := range errs {
				invalid = append(invalid, reason(e))
			}
		}
	}
	if len(invalid) > 0 && (x.status < 400 || x.status > 499) {
		fail("%s: the document says the request is invalid (%s), yet the answer is %d, want a documented 4xx",
			name, strings.Join(invalid, "; "), x.status)
	}

	resp := v.response(op, x.status)
	if resp == nil {
		fail("%s (%s %s) does not document status %d (documented: %s)", name, x.req.Method, template, x.status, strings.Join(codes(op), ", "))
		return out
	}
	if orderedLen(resp) == 0 {
		if len(x.body) > 0 && x.req.Method != http.MethodHead {
			fail("%s documents no body for %d, got %d bytes", name, x.status, len(x.body))
		}
		return out
	}
	ct := x.header.Get("Content-Type")
	media, ok := findMedia(resp, ct)
	if !ok {
		fail("%s: %d with Content-Type %q, documented: %s", name, x.status, ct, strings.Join(mediaTypes(resp), ", "))
		return out
	}
	if x.truncated && (strings.Contains(media, "json") || x.req.Method == http.MethodHead) {
		return out // a partial JSON body cannot be checked; status and type were
	}
	r := x.req.Clone(x.req.Context())
	r.Body = io.NopCloser(bytes.NewReader(x.reqBody))
	res := &http.Response{StatusCode: x.status, Header: x.header, Body: io.NopCloser(bytes.NewReader(x.body)), Request: r}
	if ok, errs := v.v.ValidateHttpResponse(r, res); !ok {
		for _, e := range errs {
			fail("%s: %d body: %s", name, x.status, reason(e))
		}
	}
	return out
}

// find returns the documented operation of method and urlPath: the path
// template with the most literal segments that matches wins, as in chi.
func (v *compiled) find(method, urlPath string) (string, *v3.Operation) {
	segs := strings.Split(urlPath, "/")
	var best *path
	bestLiterals := -1
	for i := range v.paths {
		p := &v.paths[i]
		if len(p.segments) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for j, s := range p.segments {
			switch {
			case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
				ok = segs[j] != ""
			case s == segs[j]:
				literals++
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = p, literals
		}
	}
	if best == nil {
		return "", nil
	}
	op := best.item.GetOperations().GetOrZero(strings.ToLower(method))
	return best.template, op
}

// response returns the documented response of op for status: the code,
// its range (4XX) or default.
func (v *compiled) response(op *v3.Operation, status int) *v3.Response {
	if op.Responses == nil {
		return nil
	}
	if r := op.Responses.Codes.GetOrZero(strconv.Itoa(status)); r != nil {
		return r
	}
	if r := op.Responses.Codes.GetOrZero(fmt.Sprintf("%dXX", status/100)); r != nil {
		return r
	}
	return op.Responses.Default
}

func codes(op *v3.Operation) []string {
	var out []string
	if op.Responses != nil {
		for c := op.Responses.Codes.First(); c != nil; c = c.Next() {
			out = append(out, c.Key())
		}
	}
	return out
}

func orderedLen(r *v3.Response) int {
	if r.Content == nil {
		return 0
	}
	return r.Content.Len()
}

func mediaTypes(r *v3.Response) []string {
	var out []string
	for m := r.Content.First(); m != nil; m = m.Next() {
		out = append(out, m.Key())
	}
	return out
}

// findMedia returns the documented media type that ct is: exact, or by a
// documented wildcard (image/*, */*).
func findMedia(r *v3.Response, ct string) (string, bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	types := mediaTypes(r)
	if slices.Contains(types, mt) {
		return mt, true
	}
	major, _, _ := strings.Cut(mt, "/")
	for _, t := range types {
		if t == "*/*" || t == major+"/*" {
			return t, true
		}
	}
	return "", false
}

// jsonError returns what is wrong with an error answer, or "": it must be
// a JSON object with an "error" string, as every service and the gateway
// write it (the document's Error schema).
func jsonError(x exchange) string {
	if mt, _, _ := mime.ParseMediaType(x.header.Get("Content-Type")); mt != "application/json" {
		return fmt.Sprintf("has Content-Type %q, want application/json", x.header.Get("Content-Type"))
	}
	var e struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(x.body, &e); err != nil || e.Error == nil {
		return `is not a JSON object with an "error" string`
	}
	return ""
}

// reason joins a library error's message with its schema errors.
func reason(e *oaerrors.ValidationError) string {
	parts := []string{e.Message}
	if e.Reason != "" && e.Reason != e.Message {
		parts = append(parts, e.Reason)
	}
	for _, se := range e.SchemaValidationErrors {
		parts = append(parts, fmt.Sprintf("at %s: %s", se.FieldPath, se.Reason))
	}
	return strings.Join(parts, ": ")
}

// describe prefixes a violation with the exchange: method, path, status
// and an excerpt of the body.
func (v *Validator) describe(x exchange, what string) string {
	excerpt := x.body
	if len(excerpt) > 300 {
		excerpt = excerpt[:300]
	}
	return fmt.Sprintf("OpenAPI violation: %s %s → %d: %s\n    body: %q", x.req.Method, x.req.URL.RequestURI(), x.status, what, excerpt)
}

// report hands violations to the test.
func (v *Validator) report(violations []string) {
	for _, s := range violations {
		v.tb.Errorf("%s", s)
	}
}

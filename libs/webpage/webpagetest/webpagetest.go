// Package webpagetest runs a flow of requests against pages served with
// package webpage and checks every answer, error pages and redirects
// included, against what webpage promises: HTML with one h1 and no script,
// the pages' Content-Security-Policy, no referrer, no caching. The booking
// manage pages and the admin invitation page share it instead of each
// keeping a copy.
package webpagetest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FormType is the Content-Type of a posted HTML form.
const FormType = "application/x-www-form-urlencoded"

// Step is one request of a page flow and what its answer must show.
type Step struct {
	// Name names the step's subtest.
	Name string
	// Method and Path are the request's; Path is below the server's URL.
	Method, Path string
	// CType is the request's Content-Type, empty for none.
	CType string
	// Form is the request's body, form-encoded; nil for none.
	Form url.Values
	// WantStatus is the answer's status.
	WantStatus int
	// Want lists strings the page must contain, WantNot strings it must not.
	Want, WantNot []string
	// WantLoc is the answer's Location header, when not empty.
	WantLoc string
}

// Answer is what the server answered to one request.
type Answer struct {
	// Status is the answer's status code.
	Status int
	// Body is the whole body.
	Body string
	// Header is the answer's header.
	Header http.Header
}

// Form builds form values from key, value pairs; a last key without a
// value is dropped.
func Form(kv ...string) url.Values {
	out := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// Do sends one request to baseURL+path, without following redirects, and
// reads the whole answer.
func Do(t testing.TB, baseURL, method, path, ctype string, form url.Values) Answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, baseURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer to %s %s: %v", method, path, err)
	}
	return Answer{Status: resp.StatusCode, Body: string(raw), Header: resp.Header}
}

// Run sends steps to baseURL in order, each as a subtest (later steps see
// what earlier ones changed), and checks each answer's status, Location,
// page content and headers (CheckHeaders).
func Run(t *testing.T, baseURL string, steps []Step) {
	t.Helper()
	for _, st := range steps {
		t.Run(st.Name, func(t *testing.T) {
			a := Do(t, baseURL, st.Method, st.Path, st.CType, st.Form)
			if a.Status != st.WantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", a.Status, st.WantStatus, a.Body)
			}
			CheckHeaders(t, a)
			if loc := a.Header.Get("Location"); st.WantLoc != "" && loc != st.WantLoc {
				t.Errorf("Location %q, want %q", loc, st.WantLoc)
			}
			for _, w := range st.Want {
				if !strings.Contains(a.Body, w) {
					t.Errorf("page lacks %q:\n%s", w, a.Body)
				}
			}
			for _, w := range st.WantNot {
				if strings.Contains(a.Body, w) {
					t.Errorf("page shows %q:\n%s", w, a.Body)
				}
			}
		})
	}
}

// CheckHeaders checks that a, unless it is a redirect, is an HTML page
// in the layout with exactly one h1 and no script, and that every answer
// carries the pages' headers: a CSP that allows the inlined stylesheet by
// hash, posts only to the origin, forbids framing and allows no script;
// no referrer; no caching.
func CheckHeaders(t testing.TB, a Answer) {
	t.Helper()
	if a.Status != http.StatusSeeOther {
		if ct := a.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		for _, w := range []string{`<html lang="en">`, `name="viewport"`, "<main", "<h1>"} {
			if !strings.Contains(a.Body, w) {
				t.Errorf("page lacks %s", w)
			}
		}
		if strings.Count(a.Body, "<h1") != 1 || strings.Contains(a.Body, "<script") {
			t.Errorf("want exactly one h1 and no script:\n%s", a.Body)
		}
	}
	csp := a.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'sha256-") || !strings.Contains(csp, "form-action 'self'") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script") {
		t.Errorf("CSP %q", csp)
	}
	if a.Header.Get("Referrer-Policy") != "no-referrer" || a.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Referrer-Policy %q, Cache-Control %q", a.Header.Get("Referrer-Policy"), a.Header.Get("Cache-Control"))
	}
}

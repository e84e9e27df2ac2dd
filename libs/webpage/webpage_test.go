package webpage

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func testPages(t *testing.T) *Pages {
	t.Helper()
	p, err := New(fstest.MapFS{
		"hello.html":  {Data: []byte(`{{define "content"}}<h1>{{.Title}}</h1><p>{{.Body}}</p>{{end}}`)},
		"broken.html": {Data: []byte(`{{define "content"}}{{.Missing.Field}}{{end}}`)},
	}, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type view struct{ Title, Body string }

// TestCSPAllowsExactlyTheServedStylesheet recomputes the hash from the
// <style> element of a rendered page: if the layout or the stylesheet
// changed without the hash, browsers would drop every style.
func TestCSPAllowsExactlyTheServedStylesheet(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	testPages(t).Render(rec, httptest.NewRequest("GET", "/x", nil), http.StatusOK, "hello", view{Title: "Hi", Body: "<script>alert(1)</script>"})
	body := rec.Body.String()
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no style element in %s", body)
	}
	sum := sha256.Sum256([]byte(m[1]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, want) {
		t.Errorf("CSP %q lacks %q", csp, want)
	}
	if strings.Contains(body, "<script") {
		t.Errorf("unescaped script in page: %s", body)
	}
}

func TestRenderHeaders(t *testing.T) {
	t.Parallel()
	p := testPages(t)
	tests := []struct {
		name       string
		page       string
		wantStatus int
		wantType   string
	}{
		{name: "page", page: "hello", wantStatus: http.StatusGone, wantType: "text/html; charset=utf-8"},
		{name: "unknown page", page: "nope", wantStatus: http.StatusInternalServerError, wantType: "text/plain; charset=utf-8"},
		{name: "template error", page: "broken", wantStatus: http.StatusInternalServerError, wantType: "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			p.Render(rec, httptest.NewRequest("GET", "/x", nil), http.StatusGone, tt.page, view{Title: "T"})
			if rec.Code != tt.wantStatus || rec.Header().Get("Content-Type") != tt.wantType {
				t.Errorf("status %d type %q, want %d %q", rec.Code, rec.Header().Get("Content-Type"), tt.wantStatus, tt.wantType)
			}
			h := rec.Header()
			for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
				if h.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, h.Get(k), want)
				}
			}
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q allows script or unsafe sources", csp)
			}
		})
	}
}

func TestParseForm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ctype   string
		body    string
		wantErr bool
	}{
		{name: "form", ctype: "application/x-www-form-urlencoded", body: "token=a&reason=b"},
		{name: "form with charset", ctype: "application/x-www-form-urlencoded; charset=UTF-8", body: "token=a"},
		{name: "json", ctype: "application/json", body: `{"token":"a"}`, wantErr: true},
		{name: "none", body: "token=a", wantErr: true},
		{name: "too large", ctype: "application/x-www-form-urlencoded", body: "token=" + strings.Repeat("a", MaxForm+1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/x", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			err := ParseForm(httptest.NewRecorder(), r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseForm = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && r.PostForm.Get("token") != "a" {
				t.Errorf("token %q", r.PostForm.Get("token"))
			}
		})
	}
}

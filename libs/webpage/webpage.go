// Package webpage is the look and the headers of the few HTML pages the
// services serve to people who follow a link from an email (a booker's
// manage page, an admin's invitation): one layout in the emails' palette,
// its stylesheet inlined and allowed by hash, and headers that let the
// pages run no script at all and leak no token.
//
// It lives in libs because booking and admin both serve such pages and
// must look, and be locked down, alike.
package webpage

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
)

//go:embed style.css
var style string

//go:embed layout.html
var layout string

// cssMarker is where the layout takes the stylesheet; it is replaced
// before parsing, so the bytes hashed are the bytes served.
const cssMarker = "{{css}}"

// Pages renders the page templates of one service inside the layout.
type Pages struct {
	set map[string]*template.Template
	csp string
	log *slog.Logger
}

// New parses every *.html file of pages as a page: each defines a
// "content" template and renders with a value that has a Title field.
// funcs may add template functions (nil for none).
func New(pages fs.FS, funcs template.FuncMap, log *slog.Logger) (*Pages, error) {
	base, err := template.New("layout").Funcs(funcs).Parse(strings.Replace(layout, cssMarker, style, 1))
	if err != nil {
		return nil, fmt.Errorf("parse page layout: %w", err)
	}
	names, err := fs.Glob(pages, "*.html")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("find page templates: none (%v)", err)
	}
	p := &Pages{set: map[string]*template.Template{}, csp: CSP(), log: log}
	for _, name := range names {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone page layout: %w", err)
		}
		if _, err := t.ParseFS(pages, name); err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		p.set[strings.TrimSuffix(path.Base(name), ".html")] = t
	}
	return p, nil
}

// CSP is the Content-Security-Policy of every page: nothing may load or
// run but the inlined stylesheet (by its hash), forms post only back to
// the origin, and no other site may frame the page (clickjacking a
// "Cancel" button) or rebase its links.
func CSP() string {
	sum := sha256.Sum256([]byte(style))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// SetHeaders sets the headers of a page on h. The token of the link is in
// the page's URL, so no Referer may carry it away and no cache may keep
// the page.
func (p *Pages) SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", p.csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// Render writes page name with view and status. The page is rendered to a
// buffer first, so a template failure is a plain 500, never half a page.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, name string, view any) {
	t, ok := p.set[name]
	var buf bytes.Buffer
	err := fmt.Errorf("no page %q", name)
	if ok {
		err = t.ExecuteTemplate(&buf, "layout", view)
	}
	p.SetHeaders(w.Header())
	if err != nil {
		p.log.ErrorContext(r.Context(), "render page", "page", name, "path", r.URL.Path, "error", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Something went wrong on our side. Please try again later.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Redirect answers a form post with 303 See Other to location, so that
// reloading the result page does not post the form again.
func (p *Pages) Redirect(w http.ResponseWriter, r *http.Request, location string) {
	p.SetHeaders(w.Header())
	http.Redirect(w, r, location, http.StatusSeeOther)
}

// MaxForm bounds a page's form body: a token, a reason of a few thousand
// characters and two passwords fit many times over.
const MaxForm = 32 << 10

// ParseForm reads a urlencoded form body of at most MaxForm bytes into
// r.PostForm. A body of another type is refused: the pages post nothing
// else, and a JSON or multipart body means a client that should use the
// API instead.
func ParseForm(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return ErrFormType
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxForm)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("read form: %w", err)
	}
	return nil
}

// ErrFormType is a form post that is not application/x-www-form-urlencoded.
var ErrFormType = errors.New("form body must be application/x-www-form-urlencoded")

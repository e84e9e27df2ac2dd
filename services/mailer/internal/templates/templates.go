// Package templates holds every email's templates, embedded in the binary:
// NAME.html (html/template, autoescaped) and NAME.txt (text/template, which
// also defines the "subject"), each filling the "content" block of a shared
// layout.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"slices"
	"strings"
	texttemplate "text/template"
)

//go:embed *.html *.txt
var files embed.FS

// Rendered is one email's subject and bodies.
type Rendered struct {
	// Subject is on one line: every run of white space, CR and LF
	// included, is a single space.
	Subject string
	HTML    string
	Text    string
}

// Set is every email template, parsed once.
type Set struct {
	html map[string]*htmltemplate.Template
	text map[string]*texttemplate.Template
}

// Load parses the embedded templates. Every NAME.txt needs a NAME.html and
// the other way round.
func Load() (*Set, error) {
	names, err := names()
	if err != nil {
		return nil, err
	}
	s := &Set{html: map[string]*htmltemplate.Template{}, text: map[string]*texttemplate.Template{}}
	for _, name := range names {
		ht, err := htmltemplate.New(name).Option("missingkey=error").ParseFS(files, "layout.html", name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s.html: %w", name, err)
		}
		tt, err := texttemplate.New(name).Option("missingkey=error").ParseFS(files, "layout.txt", name+".txt")
		if err != nil {
			return nil, fmt.Errorf("parse template %s.txt: %w", name, err)
		}
		if tt.Lookup("subject") == nil {
			return nil, fmt.Errorf("template %s.txt defines no subject", name)
		}
		s.html[name], s.text[name] = ht, tt
	}
	return s, nil
}

// Names lists the templates, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.text))
	for n := range s.text {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Render fills template name with data.
func (s *Set) Render(name string, data any) (Rendered, error) {
	ht, tt := s.html[name], s.text[name]
	if ht == nil || tt == nil {
		return Rendered{}, fmt.Errorf("render %s: no such template", name)
	}
	var subj, text, html bytes.Buffer
	// Sized for the layouts, so rendering does not regrow them.
	subj.Grow(128)
	text.Grow(2 << 10)
	html.Grow(4 << 10)
	if err := tt.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Rendered{}, fmt.Errorf("render %s subject: %w", name, err)
	}
	if err := tt.ExecuteTemplate(&text, "layout.txt", data); err != nil {
		return Rendered{}, fmt.Errorf("render %s text: %w", name, err)
	}
	if err := ht.ExecuteTemplate(&html, "layout.html", data); err != nil {
		return Rendered{}, fmt.Errorf("render %s html: %w", name, err)
	}
	return Rendered{
		Subject: strings.Join(strings.Fields(subj.String()), " "),
		HTML:    html.String(),
		Text:    tidy(text.String()),
	}, nil
}

// names lists the email templates: every .txt but the layout.
func names() ([]string, error) {
	matches, err := fs.Glob(files, "*.txt")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	var out []string
	for _, m := range matches {
		if n := strings.TrimSuffix(m, ".txt"); n != "layout" {
			out = append(out, n)
		}
	}
	return out, nil
}

// tidy trims a text body's leading blank lines and shrinks every run of
// blank lines to one, which optional template sections leave behind.
func tidy(s string) string {
	s = strings.TrimLeft(s, "\n")
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return s
}

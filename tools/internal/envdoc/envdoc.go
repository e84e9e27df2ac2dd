// Package envdoc lists every environment variable the services read, from
// the `env`, `default` and `doc` tags of their config structs, by parsing
// the source (a service's config package is internal, so it cannot be
// imported from here). The README's table is generated from it and a test
// keeps the two in step.
package envdoc

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Var is one environment variable and the services that read it.
type Var struct {
	Name     string
	Default  string
	Doc      string
	Secret   bool
	Services []string
}

// sharedConfig is the import path of the settings every service embeds
// (config.Base, config.Backbone, config.AdminTokens).
const sharedConfig = "github.com/acube/platform/libs/config"

// Collect parses the config packages of the named services (and the dev
// launcher) under root and merges variables that several services read.
// A field whose type is a struct of libs/config (embedded or named)
// contributes that struct's variables to the service.
func Collect(root string, sources map[string]string) ([]Var, error) {
	shared, err := structs(filepath.Join(root, "libs", "config"))
	if err != nil {
		return nil, err
	}
	byName := map[string]*Var{}
	add := func(owner string, tag reflect.StructTag) {
		name := tag.Get("env")
		if name == "" {
			return
		}
		v := byName[name]
		if v == nil {
			v = &Var{Name: name, Default: tag.Get("default"), Doc: tag.Get("doc"), Secret: tag.Get("secret") == "true"}
			byName[name] = v
		}
		if v.Doc == "" {
			v.Doc = tag.Get("doc")
		}
		if !slices.Contains(v.Services, owner) {
			v.Services = append(v.Services, owner)
		}
	}
	// expand adds the variables of a libs/config struct, following its
	// own embedded structs (Backbone embeds Base).
	var expand func(owner, name string)
	expand = func(owner, name string) {
		st, ok := shared[name]
		if !ok {
			return
		}
		for _, f := range st.Fields.List {
			if tag, ok := fieldTag(f); ok {
				add(owner, tag)
			} else if id, ok := f.Type.(*ast.Ident); ok {
				expand(owner, id.Name)
			}
		}
	}
	names := make([]string, 0, len(sources))
	for owner := range sources {
		names = append(names, owner)
	}
	slices.Sort(names)
	for _, owner := range names {
		dir := filepath.Join(root, sources[owner])
		files, err := parseDir(dir)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			alias := importName(f, sharedConfig)
			ast.Inspect(f, func(n ast.Node) bool {
				field, ok := n.(*ast.Field)
				if !ok {
					return true
				}
				if tag, ok := fieldTag(field); ok {
					add(owner, tag)
				} else if sel, ok := field.Type.(*ast.SelectorExpr); ok && alias != "" {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == alias {
						expand(owner, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	out := make([]Var, 0, len(byName))
	for _, v := range byName {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b Var) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// parseDir parses the non-test Go files of dir.
func parseDir(dir string) ([]*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", e.Name(), err)
		}
		files = append(files, f)
	}
	return files, nil
}

// structs returns the struct types declared in dir, by name.
func structs(dir string) (map[string]*ast.StructType, error) {
	files, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]*ast.StructType{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					out[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	return out, nil
}

// fieldTag is the struct tag of f when it names an env variable.
func fieldTag(f *ast.Field) (reflect.StructTag, bool) {
	if f.Tag == nil {
		return "", false
	}
	raw, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return "", false
	}
	tag := reflect.StructTag(raw)
	return tag, tag.Get("env") != ""
}

// importName is the name f uses for the package at path, or "".
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, err := strconv.Unquote(imp.Path.Value); err != nil || p != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return filepath.Base(path)
	}
	return ""
}

// Markdown renders the variables as a table.
func Markdown(vars []Var) string {
	var b strings.Builder
	b.WriteString("| variable | default | read by | meaning |\n|---|---|---|---|\n")
	for _, v := range vars {
		def := "—"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		doc := strings.ReplaceAll(v.Doc, "|", "\\|")
		if v.Secret {
			doc += " (secret)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, strings.ReplaceAll(def, "|", "\\|"), strings.Join(v.Services, ", "), doc)
	}
	return b.String()
}

// Sources maps each reader of the environment to its config package.
func Sources() map[string]string {
	return map[string]string{
		"gateway":  "services/gateway/internal/config",
		"booking":  "services/booking/internal/config",
		"admin":    "services/admin/internal/config",
		"mailer":   "services/mailer/internal/config",
		"exporter": "services/exporter/internal/config",
		"devstack": "tools/cmd/devstack",
	}
}

// Markers delimit the generated table in the README.
const (
	BeginMarker = "<!-- env:begin (generated by `make docs`; do not edit) -->"
	EndMarker   = "<!-- env:end -->"
)

// Splice replaces the text between the markers in doc with table.
func Splice(doc, table string) (string, error) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("markers %q and %q not found in order", BeginMarker, EndMarker)
	}
	return doc[:i+len(BeginMarker)] + "\n" + table + doc[j:], nil
}

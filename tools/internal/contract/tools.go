package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// toolsDir is where package.json pins the npm tools, from the repository
// root; npm ci installs them into its node_modules.
const toolsDir = "tools/contract"

// npx runs an installed npm tool from dir's node_modules in workDir
// (where Portman leaves its tmp/), its output going to out; it never
// downloads one.
func npx(ctx context.Context, dir, workDir string, out io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", name), args...)
	cmd.Dir = workDir
	w := lineWriter{out: out, prefix: fmt.Sprintf("%-8s | ", name)}
	cmd.Stdout, cmd.Stderr = &w, &w
	err := cmd.Run()
	w.flush()
	if err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// lineWriter passes whole lines to out with a prefix, one write each.
type lineWriter struct {
	out    io.Writer
	prefix string
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		fmt.Fprintln(w.out, w.prefix+string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		fmt.Fprintln(w.out, w.prefix+string(w.buf))
		w.buf = nil
	}
}

// Installed reports whether the pinned npm tools are in dir's
// node_modules (make contract-deps puts them there).
func Installed(dir string) bool {
	for _, bin := range []string{"redocly", "portman", "newman"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", bin)); err != nil {
			return false
		}
	}
	return true
}

// lint runs redocly's recommended rules on the document.
func lint(ctx context.Context, dir, doc string, out io.Writer) error {
	return npx(ctx, dir, dir, out, "redocly", "lint", doc, "--extends=recommended", "--format=stylish")
}

// collection writes the Portman configuration for the document
// (gen-config.mjs) and the Postman collection Portman generates from
// both into outDir; the event image upload gets image as its body.
func collection(ctx context.Context, dir, doc, outDir, baseURL, image string, out io.Writer) (string, error) {
	cfg := filepath.Join(outDir, "portman-config.json")
	f, err := os.Create(cfg)
	if err != nil {
		return "", err
	}
	gen := exec.CommandContext(ctx, "node", filepath.Join(dir, "gen-config.mjs"), doc)
	gen.Stdout, gen.Stderr = f, os.Stderr
	err = gen.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("gen-config.mjs: %w", err)
	}
	coll := filepath.Join(outDir, "collection.json")
	if err := npx(ctx, dir, outDir, out, "portman", "-l", doc, "-c", cfg, "-o", coll, "-b", baseURL); err != nil {
		return "", err
	}
	if err := adjust(coll, image); err != nil {
		return "", err
	}
	return coll, nil
}

// adjust makes every request that uploads an image (a PUT to .../image)
// send the file image (Postman's raw bodies are text, and a generated
// example is no picture), and drops the fuzz variations that left the
// body as it was: Portman fuzzes only the fields the happy request
// sends, and names a variation for every field the schema limits.
func adjust(coll, image string) error {
	raw, err := os.ReadFile(coll)
	if err != nil {
		return err
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("read %s: %w", coll, err)
	}
	walkItems(c, func(it map[string]any) {
		req, _ := it["request"].(map[string]any)
		u, _ := req["url"].(map[string]any)
		path, _ := u["path"].([]any)
		if req["method"] != "PUT" || len(path) == 0 || path[len(path)-1] != "image" {
			return
		}
		body, _ := req["body"].(map[string]any)
		if body != nil && body["mode"] == "raw" && !strings.Contains(fmt.Sprint(body["raw"]), "not an object") {
			req["body"] = map[string]any{"mode": "file", "file": map[string]any{"src": image}}
		}
	})
	happy := map[string]string{}
	walkItems(c, func(it map[string]any) {
		if name, _ := it["name"].(string); !strings.HasSuffix(name, "]") {
			happy[name] = rawBody(it)
		}
	})
	dropItems(c, func(it map[string]any) bool {
		name, _ := it["name"].(string)
		base, _, fuzz := strings.Cut(name, "[fuzz]")
		return fuzz && rawBody(it) == happy[base]
	})
	raw, err = json.Marshal(c)
	if err != nil {
		return err
	}
	return os.WriteFile(coll, raw, 0o644)
}

// walkItems calls fn on every request item of a Postman collection.
func walkItems(node map[string]any, fn func(map[string]any)) {
	items, _ := node["item"].([]any)
	for _, i := range items {
		it, _ := i.(map[string]any)
		if _, folder := it["item"]; folder {
			walkItems(it, fn)
		} else if it != nil {
			fn(it)
		}
	}
}

// newman runs the collection with vars as environment variables and
// writes its JSON report to report. A failed assertion is no error here:
// the summary counts them.
func newman(ctx context.Context, dir, coll, report string, vars map[string]string, out io.Writer) error {
	args := []string{"run", coll, "--reporters", "cli,json", "--reporter-json-export", report,
		"--reporter-cli-no-summary", "--reporter-cli-no-banner", "--timeout-request", "30000", "--color", "off"}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		args = append(args, "--env-var", k+"="+vars[k])
	}
	err := npx(ctx, dir, filepath.Dir(report), out, "newman", args...)
	if _, serr := os.Stat(report); serr != nil {
		return fmt.Errorf("newman wrote no report: %w", err)
	}
	return nil
}

// rawBody is a request item's raw body with its white space collapsed.
func rawBody(it map[string]any) string {
	req, _ := it["request"].(map[string]any)
	body, _ := req["body"].(map[string]any)
	raw, _ := body["raw"].(string)
	return strings.Join(strings.Fields(raw), " ")
}

// dropItems removes the request items drop selects from a collection.
func dropItems(node map[string]any, drop func(map[string]any) bool) {
	items, _ := node["item"].([]any)
	kept := items[:0]
	for _, i := range items {
		it, _ := i.(map[string]any)
		if _, folder := it["item"]; folder {
			dropItems(it, drop)
		} else if drop(it) {
			continue
		}
		kept = append(kept, i)
	}
	if items != nil {
		node["item"] = kept
	}
}

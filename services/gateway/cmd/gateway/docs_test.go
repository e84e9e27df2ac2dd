package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/apispec"
	"github.com/acube/platform/libs/browsertest"
	"github.com/acube/platform/services/gateway/internal/openapi"
)

// TestDocsRenderInHeadlessChromium loads /api/docs from a started gateway
// in headless Chromium with every other host unreachable, and checks that
// Swagger UI renders every path of the document and expands an operation
// (deep link), that no Content-Security-Policy directive was violated,
// and that every request the page made went to the gateway (Chromium's
// net log). The CDN page it replaces rendered nothing here.
func TestDocsRenderInHeadlessChromium(t *testing.T) {
	bin := browsertest.Find(t)
	g := startGateway(t, "", "docs:")

	resp, err := http.Get(g.base + "/api/docs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if csp != openapi.DocsCSP || !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") {
		t.Errorf("docs page CSP %q, want %q (scripts from the gateway only, nothing unsafe)", csp, openapi.DocsCSP)
	}

	dir := t.TempDir()
	netLog := filepath.Join(dir, "net.json")
	args := append(browsertest.Flags(),
		"--user-data-dir="+filepath.Join(dir, "profile"),
		"--log-net-log="+netLog,
		// Virtual time runs the page until it is idle or 10 virtual
		// seconds have passed, whichever is first; no wall-clock wait.
		"--virtual-time-budget=10000",
		"--dump-dom", g.base+"/api/docs#/sessions/bookSession")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var dom, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &dom, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}

	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(apispec.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	page := dom.String()
	missing := 0
	for p := range doc.Paths {
		if !strings.Contains(page, `data-path="`+p+`"`) {
			missing++
			t.Errorf("operation path %s not rendered", p)
		}
	}
	if missing == len(doc.Paths) {
		t.Fatalf("Swagger UI rendered no operation; the page was:\n%.2000s\nconsole:\n%s", page, consoleLines(stderr.String()))
	}
	// The deep link opened the booking operation: its body, its example
	// and the Try-it-out button are on the page.
	for _, want := range []string{`id="operations-sessions-bookSession"`, `class="opblock-body"`, "Try it out"} {
		if !strings.Contains(page, want) {
			t.Errorf("expanded operation lacks %s", want)
		}
	}
	for _, line := range consoleLines(stderr.String()) {
		if strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Refused to") {
			t.Errorf("CSP violation: %s", line)
		}
	}

	base, _ := url.Parse(g.base)
	requests := pageRequests(t, netLog, base.Scheme+"://"+base.Host)
	var paths []string
	for _, u := range requests {
		if u.Host != base.Host {
			t.Errorf("the page requested %s: not the gateway", u)
		}
		paths = append(paths, u.Path)
	}
	for _, want := range []string{"/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css", "/api/docs/init.js", "/api/openapi.json"} {
		if !slices.Contains(paths, want) {
			t.Errorf("the page never requested %s (requests: %v)", want, paths)
		}
	}
	g.stop(t)
}

// consoleLines are the page's console messages from Chromium's log.
func consoleLines(stderr string) []string {
	var out []string
	for line := range strings.SplitSeq(stderr, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			out = append(out, line)
		}
	}
	return out
}

// pageRequests reads Chromium's net log and returns the URL of every
// request the page at origin made (its initiator): scripts, styles, XHR,
// wherever they went. The browser's own requests (update checks,
// autofill; the resolver rule fails them) have no such initiator.
func pageRequests(t *testing.T, path, origin string) []*url.URL {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("chromium net log: %v", err)
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Params struct {
				URL       string `json:"url"`
				Initiator string `json:"initiator"`
			} `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		t.Fatalf("chromium net log: %v", err)
	}
	start, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatal("chromium net log: no URL_REQUEST_START_JOB event type")
	}
	var out []*url.URL
	for _, e := range log.Events {
		if e.Type != start || e.Params.Initiator != origin {
			continue
		}
		u, err := url.Parse(e.Params.URL)
		if err != nil {
			t.Fatalf("chromium net log: url %q: %v", e.Params.URL, err)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		t.Fatal("chromium net log: no request of the page")
	}
	return out
}

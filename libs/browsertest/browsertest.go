// Package browsertest finds and configures Debian's headless Chromium for
// the tests that drive a real browser (the gateway's /api/docs, the pages
// people open from our emails), so they start it one way.
package browsertest

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// Flags start Debian's Chromium headless as root on a machine without a
// network: no sandbox (root), no GPU, and none of the browser's own
// background traffic (updates, sync, sign-in), which only fails here.
// The host-resolver rule makes every name but 127.0.0.1 unresolvable, so
// nothing a page asks for can leave the machine, as on an offline
// laptop. It returns a fresh slice the caller may append to.
func Flags() []string {
	return slices.Clone([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--disable-features=AutofillServerCommunication",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--enable-logging=stderr", "--v=0",
	})
}

// Missing is the message of a test that cannot find the browser.
const Missing = "headless Chromium is not installed: `make tools-deps` installs it (apt-get install chromium), or set CHROMIUM"

// Lookup finds the browser: $CHROMIUM, or chromium (or chromium-browser)
// on the PATH; ok is false when there is none.
func Lookup() (path string, ok bool) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// Find is Lookup for a test: without a browser the test fails, except
// under -short, where it is skipped.
func Find(t testing.TB) string {
	t.Helper()
	if p, ok := Lookup(); ok {
		return p
	}
	if testing.Short() {
		t.Skip(Missing)
	}
	t.Fatal(Missing)
	return ""
}

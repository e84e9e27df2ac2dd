package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestVendoredSwaggerUI: the Swagger UI files compiled in are the ones
// assets/README.md names, byte for byte, at the version it names.
func TestVendoredSwaggerUI(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("assets/README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	sums := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\| `([0-9a-f]{64})` \\|$").FindAllStringSubmatch(text, -1) {
		sums[m[1]] = m[2]
	}
	files := map[string][]byte{"swagger-ui-bundle.js": swaggerUIBundle, "swagger-ui.css": swaggerUICSS}
	for name, body := range files {
		sum := sha256.Sum256(body)
		if got := hex.EncodeToString(sum[:]); sums[name] != got {
			t.Errorf("%s has sha256 %s, assets/README.md says %q", name, got, sums[name])
		}
	}
	m := regexp.MustCompile(`swagger-ui-dist \*\*([0-9.]+)\*\*`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("assets/README.md names no swagger-ui-dist version")
	}
	if !strings.Contains(string(swaggerUIBundle), `PACKAGE_VERSION:"`+m[1]+`"`) {
		t.Errorf("swagger-ui-bundle.js is not version %s", m[1])
	}
}

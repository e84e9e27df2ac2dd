package contract

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/tools/internal/stack"
)

// TestIntegrationContract runs make contract's check once (make test
// installs the npm tools first, mk/contract.mk): redocly lint, the whole
// stack, Portman + Newman. Skipped under -short and when the tools are
// not installed.
func TestIntegrationContract(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the services; skipped under -short")
	}
	root := stack.TestRoot(t)
	if !Installed(filepath.Join(root, toolsDir)) {
		t.Skip("npm tools not installed (make contract-deps)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out strings.Builder
	s, err := Run(ctx, Config{Root: root, DatabaseURL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", Dir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if err := s.Err(); err != nil {
		var sum strings.Builder
		s.Print(&sum)
		t.Fatalf("%v\n%s", err, sum.String())
	}
}

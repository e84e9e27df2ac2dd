// Command apigen writes what the gateway derives from the OpenAPI document
// (libs/apispec/openapi.json): its route table
// (services/gateway/internal/route/table_gen.go) and both copies of its
// rate-limit file. Run it with `make generate` after editing the document;
// TestGeneratedFilesAreCurrent fails while a committed file differs.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/acube/platform/tools/internal/stack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "apigen:", err)
		os.Exit(1)
	}
}

func run() error {
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("find the working directory: %w", err)
	}
	root, err := stack.Root(wd)
	if err != nil {
		return fmt.Errorf("find the repository root: %w", err)
	}
	files, err := generateFrom(root)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(root, f.Path), f.Data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return nil
}

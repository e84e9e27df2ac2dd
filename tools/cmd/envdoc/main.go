// Command envdoc rewrites the environment-variable table of README.md from
// the services' config structs: `make docs`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/acube/platform/tools/internal/envdoc"
	"github.com/acube/platform/tools/internal/stack"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "envdoc:", err)
		os.Exit(1)
	}
}

func run() error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := stack.Root(wd)
	if err != nil {
		return err
	}
	vars, err := envdoc.Collect(root, envdoc.Sources())
	if err != nil {
		return err
	}
	path := filepath.Join(root, "README.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := envdoc.Splice(string(doc), envdoc.Markdown(vars))
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

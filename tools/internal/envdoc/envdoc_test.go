package envdoc

import (
	"os"
	"path/filepath"
	"testing"
)

// TestREADMEListsEveryVariable keeps the README's table in step with the
// services' config structs; `make docs` regenerates it.
func TestREADMEListsEveryVariable(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	vars, err := Collect(root, Sources())
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Splice(string(readme), Markdown(vars))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(readme) {
		t.Error("README.md's environment table is stale: run `make docs`")
	}
}

package apispec

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDocument: the embedded document is OpenAPI 3.1 JSON with paths, and
// Document hands out a copy, so a caller that edits its bytes cannot
// change what the next caller reads.
func TestDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(Document(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") || len(doc.Paths) == 0 {
		t.Errorf("openapi %q with %d paths, want 3.1 with paths", doc.OpenAPI, len(doc.Paths))
	}
	a := Document()
	a[0] = 'X'
	if b := Document(); b[0] == 'X' {
		t.Error("Document returns the embedded bytes, not a copy")
	}
}

package httpapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acube/platform/libs/apispec"
)

// TestDocumentResponsesAreConcrete: every 2xx body of the admin
// service's operations (x-owner: admin) has a schema a client can
// generate a type from: no object, at any depth, without properties
// (issue 14 found bare "type: object" answers, e.g. me and the JWKS).
func TestDocumentResponsesAreConcrete(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas   map[string]map[string]any `json:"schemas"`
			Responses map[string]map[string]any `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(apispec.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	ref := func(m map[string]any) string {
		r, _ := m["$ref"].(string)
		return r[strings.LastIndex(r, "/")+1:]
	}
	var bare func(s map[string]any, at string, seen map[string]bool) []string
	bare = func(s map[string]any, at string, seen map[string]bool) []string {
		if name := ref(s); name != "" {
			if seen[name] {
				return nil
			}
			seen = map[string]bool{name: true}
			s = doc.Components.Schemas[name]
		}
		var out []string
		props, _ := s["properties"].(map[string]any)
		_, typedMap := s["additionalProperties"].(map[string]any)
		if isObject(s["type"]) && len(props) == 0 && !typedMap && s["additionalProperties"] != true {
			out = append(out, at)
		}
		for k, p := range props {
			if m, ok := p.(map[string]any); ok {
				out = append(out, bare(m, at+"."+k, seen)...)
			}
		}
		if m, ok := s["items"].(map[string]any); ok {
			out = append(out, bare(m, at+"[]", seen)...)
		}
		for _, kw := range []string{"oneOf", "anyOf", "allOf"} {
			list, _ := s[kw].([]any)
			for _, v := range list {
				if m, ok := v.(map[string]any); ok {
					out = append(out, bare(m, at+"/"+kw, seen)...)
				}
			}
		}
		return out
	}
	ops := 0
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				Owner     string                    `json:"x-owner"`
				Responses map[string]map[string]any `json:"responses"`
			}
			if json.Unmarshal(raw, &op) != nil || !strings.HasPrefix(path, "/api/admin/") || !adminOwns(op.Owner, path) {
				continue
			}
			ops++
			for code, resp := range op.Responses {
				if !strings.HasPrefix(code, "2") {
					continue
				}
				if name := ref(resp); name != "" {
					resp = doc.Components.Responses[name]
				}
				content, _ := resp["content"].(map[string]any)
				for media, mt := range content {
					schema, _ := mt.(map[string]any)["schema"].(map[string]any)
					if schema == nil {
						t.Errorf("%s %s %s %s has no schema", method, path, code, media)
						continue
					}
					for _, at := range bare(schema, "body", map[string]bool{}) {
						t.Errorf("%s %s %s: %s is an object without properties", method, path, code, at)
					}
				}
			}
		}
	}
	if ops < 20 {
		t.Fatalf("found %d admin operations in the document, want all of them", ops)
	}
}

// adminOwns reads x-owner, or, where it is missing, the paths of the
// exporter and booking under /api/admin.
func adminOwns(owner, path string) bool {
	if owner != "" {
		return owner == "admin"
	}
	return !strings.HasPrefix(path, "/api/admin/exports") && !strings.HasPrefix(path, "/api/admin/bulk/export")
}

func isObject(t any) bool {
	switch v := t.(type) {
	case string:
		return v == "object"
	case []any:
		for _, e := range v {
			if e == "object" {
				return true
			}
		}
	}
	return false
}

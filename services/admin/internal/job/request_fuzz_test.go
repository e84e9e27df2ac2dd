package job

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/web/webtest"
)

// FuzzBulkRequest feeds arbitrary bodies to the bulk endpoints' decoding
// (2 MiB limit, as the handler) and validation for both actions: a valid
// request yields canonical, distinct UUIDs in request order; anything
// else is a client error.
func FuzzBulkRequest(f *testing.F) {
	for _, s := range []string{
		`{"entity":"sessions","ids":["0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11"],"status":"confirmed"}`,
		`{"entity":"events","ids":["0192F0C4-7A35-7C4E-9D3A-5B6A1F0E2D11","{0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11}"]}`,
		`{"entity":"x","ids":[]}`, `{"ids":"a"}`, `{"entity":"contact","ids":[null]}`, `{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req Request
		if !webtest.Decode(t, body, 2<<20, &req) {
			return
		}
		for _, action := range []string{ActionDelete, ActionStatusUpdate} {
			ids, err := req.normalize(action, 100)
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) || len(ve.Fields) == 0 {
					t.Fatalf("normalize %q for %s: %v", body, action, err)
				}
				continue
			}
			if len(ids) == 0 || len(ids) > len(req.IDs) {
				t.Fatalf("%d ids from %d", len(ids), len(req.IDs))
			}
			seen := map[string]bool{}
			for _, id := range ids {
				u, err := uuid.Parse(id)
				if err != nil || u.String() != id || seen[id] {
					t.Fatalf("normalized id %q (duplicate %v)", id, seen[id])
				}
				seen[id] = true
			}
		}
	})
}

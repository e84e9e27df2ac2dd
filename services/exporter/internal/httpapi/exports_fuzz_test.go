package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/audit"
)

// FuzzExportRequest feeds arbitrary bodies through the export request's
// decoding (8 KiB, as the handler) and audit.ParseFilter: the outcome is a
// filter or a client error, and an accepted filter survives the JSON the
// store keeps it in.
func FuzzExportRequest(f *testing.F) {
	for _, s := range []string{
		`{"admin":"ada@example.org","action":"delete","entity":"session","from":"2025-01-01","to":"2025-01-31"}`,
		`{"admin_id":"0190A5B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B"}`, `{"admin_id":"{0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b}"}`,
		`{"from":"2025-01-01T00:00:00.123456789+02:00","to":"2025-01-01T00:00:00Z"}`,
		`{"from":"9999-12-30","to":"9999-12-30"}`, `{"admin":"\u0007"}`, `{"to":"0000-01-01"}`, `{}`, `{"x":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req exportRequest
		if err := web.DecodeJSON(bytes.NewReader([]byte(body)), 8<<10, &req); err != nil {
			var we *web.Error
			if !errors.As(err, &we) || we.Status < 400 || we.Status > 499 {
				t.Fatalf("decode %q: %v", body, err)
			}
			return
		}
		flt, err := audit.ParseFilter(audit.FilterInput(req))
		if err != nil {
			var ve *audit.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("ParseFilter(%+v): %v", req, err)
			}
			return
		}
		stored, err := json.Marshal(flt)
		if err != nil {
			t.Fatalf("accepted filter %+v cannot be stored: %v", flt, err)
		}
		var back audit.Filter
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatalf("stored filter %s does not load: %v", stored, err)
		}
		if back.AdminID != flt.AdminID || back.Admin != flt.Admin || back.Action != flt.Action || back.Entity != flt.Entity ||
			!back.From.Equal(flt.From) || !back.To.Equal(flt.To) {
			t.Fatalf("filter %+v loads back as %+v", flt, back)
		}
	})
}

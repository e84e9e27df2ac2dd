package contract

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const testDoc = `{"paths":{
 "/api/things":{"get":{"operationId":"listThings","x-owner":"booking","responses":{"200":{},"401":{},"429":{}}}},
 "/api/things/{id}":{"get":{"operationId":"getThing","x-owner":"booking","responses":{"200":{},"404":{}}}},
 "/api/things/export":{"get":{"operationId":"exportThings","x-owner":"exporter","responses":{"200":{},"413":{}}}},
 "/api/docs":{"get":{"operationId":"getDocs","x-owner":"gateway","responses":{"200":{}}}}}}`

func TestSummarize(t *testing.T) {
	exec := func(name, method, path, query string, code int, failed ...string) string {
		var as []string
		as = append(as, `{"assertion":"ok"}`)
		for _, f := range failed {
			as = append(as, `{"assertion":"x","error":{"message":"`+f+`"}}`)
		}
		q := ""
		if query != "" {
			k, v, _ := strings.Cut(query, "=")
			q = `,"query":[{"key":"` + k + `","value":"` + v + `"}]`
		}
		segs := `"` + strings.Join(strings.Split(strings.TrimPrefix(path, "/"), "/"), `","`) + `"`
		return `{"item":{"name":"` + name + `"},"request":{"method":"` + method + `","url":{"path":[` + segs + `]` + q + `}},"response":{"code":` + itoa(code) + `},"assertions":[` + strings.Join(as, ",") + `]}`
	}
	tests := []struct {
		name          string
		executions    []string
		wantUncovered map[string]string
		wantFailures  []string // operation: request → status
		stats         string
		wantErr       bool
	}{
		{
			name: "all covered and passing",
			executions: []string{
				exec("List", "GET", "/api/things", "limit=5", 200),
				exec("List[unauthenticated]", "GET", "/api/things", "", 401),
				exec("Get", "GET", "/api/things/abc", "", 200),
				exec("Get[unknown id]", "GET", "/api/things/zzz", "", 404),
				exec("Export", "GET", "/api/things/export", "", 200),
				exec("Docs", "GET", "/api/docs", "", 200),
			},
			wantUncovered: map[string]string{},
		},
		{
			name: "a script that threw fails the run",
			executions: []string{
				exec("List", "GET", "/api/things", "", 200),
				exec("List[unauthenticated]", "GET", "/api/things", "", 401),
				exec("Get", "GET", "/api/things/abc", "", 200),
				exec("Get[unknown id]", "GET", "/api/things/zzz", "", 404),
				exec("Export", "GET", "/api/things/export", "", 200),
				exec("Docs", "GET", "/api/docs", "", 200),
			},
			stats:         `"prerequestScripts":{"failed":1}`,
			wantUncovered: map[string]string{},
			wantErr:       true,
		},
		{
			name: "failures, a literal path before a template, missing paths",
			executions: []string{
				exec("List", "GET", "/api/things", "limit=5", 200, "schema mismatch"),
				exec("Export", "GET", "/api/things/export", "", 500, "status 200 expected"),
				exec("Stray", "GET", "/api/nowhere/at/all", "", 404, "no such route"),
			},
			wantUncovered: map[string]string{
				"listThings": "no error-path request (the document lists a 4xx)",
				"getThing":   "no happy-path request",
				"getDocs":    "no happy-path request",
			},
			wantFailures: []string{
				"booking listThings: GET /api/things?limit=5 → 200",
				"document (no operation): GET /api/nowhere/at/all → 404",
				"exporter exportThings: GET /api/things/export → 500",
			},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := `{"run":{"stats":{` + tt.stats + `},"executions":[` + strings.Join(tt.executions, ",") + `]}}`
			s, err := Summarize([]byte(testDoc), []byte(rep))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(tt.wantUncovered, s.Uncovered) {
				t.Errorf("uncovered = %v, want %v", s.Uncovered, tt.wantUncovered)
			}
			var got []string
			for _, f := range s.Failures {
				got = append(got, f.Owner+" "+f.Operation+": "+f.Request+" → "+itoa(f.Status))
			}
			if !slices.Equal(tt.wantFailures, got) {
				t.Errorf("failures = %q, want %q", got, tt.wantFailures)
			}
			if (s.Err() != nil) != tt.wantErr {
				t.Errorf("Err() = %v, want error %v", s.Err(), tt.wantErr)
			}
			if s.Operations != 4 || s.Requests != len(tt.executions) {
				t.Errorf("operations %d requests %d", s.Operations, s.Requests)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

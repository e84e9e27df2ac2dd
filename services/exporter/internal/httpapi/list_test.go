package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/web"
)

type page struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// TestIntegrationListPaging: with 6 exports, limit=1 pages through all of
// them newest first, next_cursor set exactly when a next page exists
// (issue 14: it never was, so nobody could page past page one).
func TestIntegrationListPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(authn.RoleAdmin)
	var want []string
	for range 6 {
		want = append(want, decode[accepted](t, f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, "")).ExportID)
	}
	slices.Reverse(want) // newest first

	for _, limit := range []string{"1", "4", "6", "7"} {
		t.Run("limit="+limit, func(t *testing.T) {
			var got []string
			path := "/api/admin/exports?limit=" + limit
			for range 10 {
				rec := f.do(http.MethodGet, path, tok, "")
				if rec.Code != http.StatusOK {
					t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
				}
				p := decode[page](t, rec)
				for _, it := range p.Items {
					got = append(got, it.ID)
				}
				if p.NextCursor == nil {
					break
				}
				if len(got) == len(want) {
					t.Errorf("GET %s: next_cursor %q after the last export", path, *p.NextCursor)
				}
				path = "/api/admin/exports?limit=" + limit + "&cursor=" + url.QueryEscape(*p.NextCursor)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paged ids (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("default limit", func(t *testing.T) {
		p := decode[page](t, f.do(http.MethodGet, "/api/admin/exports", tok, ""))
		if len(p.Items) != 6 || p.NextCursor != nil {
			t.Errorf("default page has %d items, next_cursor %v; want all 6 and null", len(p.Items), p.NextCursor)
		}
	})
}

// TestIntegrationListQueryErrors: a limit or cursor that is given but
// wrong is a 422 naming it, never silently the first page; an empty
// cursor (a client filling it from a null next_cursor) is the first page.
func TestIntegrationListQueryErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(authn.RoleAdmin)
	tests := []struct {
		name  string
		query string
		want  int
		field string
	}{
		{name: "lowest limit", query: "?limit=1", want: http.StatusOK},
		{name: "highest limit", query: "?limit=200", want: http.StatusOK},
		{name: "limit zero", query: "?limit=0", want: http.StatusUnprocessableEntity, field: "limit"},
		{name: "limit negative", query: "?limit=-5", want: http.StatusUnprocessableEntity, field: "limit"},
		{name: "limit above 200", query: "?limit=201", want: http.StatusUnprocessableEntity, field: "limit"},
		{name: "limit not a number", query: "?limit=ten", want: http.StatusUnprocessableEntity, field: "limit"},
		{name: "limit empty", query: "?limit=", want: http.StatusUnprocessableEntity, field: "limit"},
		{name: "cursor garbage", query: "?cursor=abc", want: http.StatusUnprocessableEntity, field: "cursor"},
		{name: "cursor empty is the first page", query: "?cursor=", want: http.StatusOK},
		{name: "cursor right length, not base64url", query: "?cursor=" + url.QueryEscape("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"), want: http.StatusUnprocessableEntity, field: "cursor"},
		{name: "cursor of the nil id", query: "?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", want: http.StatusUnprocessableEntity, field: "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := f.do(http.MethodGet, "/api/admin/exports"+tt.query, tok, "")
			if rec.Code != tt.want {
				t.Fatalf("status = %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.field != "" {
				if _, ok := decode[web.Error](t, rec).Fields[tt.field]; !ok {
					t.Errorf("error %s does not name field %s", rec.Body, tt.field)
				}
			}
		})
	}
}

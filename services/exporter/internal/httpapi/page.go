package httpapi

import (
	"net/http"

	"github.com/acube/platform/libs/keyset"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/export"
)

// pageQuery reads limit and cursor from r's query by the one rule of
// every list (keyset.Query): a limit or a cursor that is present but
// wrong is a 422 naming it, never silently the first page (a client
// would loop on it forever). The cursor is an export's Key.
func pageQuery(r *http.Request) (after *export.Key, limit int, err error) {
	limit, c, bad := keyset.Query(r.URL.Query())
	if len(bad) > 0 {
		return nil, 0, web.Invalid(bad)
	}
	if c != nil {
		after = &export.Key{CreatedAt: c.At, ID: c.ID}
	}
	return after, limit, nil
}

// encodeCursor makes the opaque next_cursor of a page ending at k.
func encodeCursor(k export.Key) string {
	return keyset.Cursor{At: k.CreatedAt, ID: k.ID}.Encode()
}

package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acube/platform/libs/csvsafe"
)

// export streams an entity's CSV straight from the database through the
// formula-neutralising writer. Headers go out with the first record, so a
// bad entity or filter still gets a JSON error. A failure after that
// cannot change the status: the trailer Export-Error says the file is
// incomplete, and Export-Rows counts the rows of a complete one.
func (a *API) export(w http.ResponseWriter, r *http.Request) {
	entity := chi.URLParam(r, "entity")
	f, err := parseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var out *csvsafe.Writer
	rows, err := a.svc.Export(r.Context(), a.actor(r), entity, f, func(rec []string) error {
		if out == nil {
			h := w.Header()
			h.Set("Content-Type", "text/csv; charset=utf-8")
			h.Set("Content-Disposition", `attachment; filename="`+entity+"-"+time.Now().UTC().Format("20060102T150405Z")+`.csv"`)
			h.Set("Cache-Control", "no-store")
			h.Set("Trailer", "Export-Rows, Export-Error")
			w.WriteHeader(http.StatusOK)
			out = csvsafe.NewWriter(w)
		}
		return out.Write(rec)
	})
	if out == nil {
		a.fail(w, r, err)
		return
	}
	if fErr := out.Flush(); err == nil {
		err = fErr
	}
	if err != nil {
		a.log.ErrorContext(r.Context(), "export failed mid-stream", "entity", entity, "rows", rows,
			"error", err.Error())
		w.Header().Set("Export-Error", "the export stopped early; the file is incomplete")
		return
	}
	w.Header().Set("Export-Rows", itoa(rows))
}

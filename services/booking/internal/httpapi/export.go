package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/csvsafe"
)

// ExportMetrics count the rows of CSV exports by entity and outcome
// (complete or aborted): an aborted stream is otherwise visible only in
// the log.
type ExportMetrics struct {
	rows *prometheus.CounterVec
}

// NewExportMetrics registers booking_export_rows_total on reg.
func NewExportMetrics(reg prometheus.Registerer) (*ExportMetrics, error) {
	m := &ExportMetrics{rows: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "booking_export_rows_total",
		Help: "Rows streamed by CSV exports, by entity and outcome (complete, aborted).",
	}, []string{"entity", "outcome"})}
	if err := reg.Register(m.rows); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *ExportMetrics) add(entity, outcome string, rows int) {
	if m != nil {
		m.rows.WithLabelValues(entity, outcome).Add(float64(rows))
	}
}

// export streams an entity's CSV straight from the database through the
// formula-neutralising writer.
func (a *API) export(w http.ResponseWriter, r *http.Request) {
	entity := chi.URLParam(r, "entity")
	f, err := parseFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.streamCSV(w, r, entity, func(write func([]string) error) (int, error) {
		return a.svc.Export(r.Context(), a.actor(r), entity, f, write)
	})
}

// streamCSV runs produce, which writes the header and then each row, as a
// CSV attachment. Headers go out with the first record, so an error before
// it (a bad entity or filter) is still a JSON error. An error after it
// cannot change the status, and a trailer saying so is one no client or
// validating proxy expects; so the response is aborted instead: the
// chunked body ends without its terminating chunk and every HTTP client
// reports the file as incomplete rather than taking it for the whole.
func (a *API) streamCSV(w http.ResponseWriter, r *http.Request, entity string, produce func(write func([]string) error) (int, error)) {
	var out *csvsafe.Writer
	rows, err := produce(func(rec []string) error {
		if out == nil {
			h := w.Header()
			h.Set("Content-Type", "text/csv; charset=utf-8")
			h.Set("Content-Disposition", `attachment; filename="`+entity+"-"+time.Now().UTC().Format("20060102T150405Z")+`.csv"`)
			h.Set("Cache-Control", "no-store")
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
		a.cfg.Exports.add(entity, "aborted", rows)
		a.log.ErrorContext(r.Context(), "export failed mid-stream; aborting the response", "entity", entity,
			"rows", rows, "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	a.cfg.Exports.add(entity, "complete", rows)
	a.log.InfoContext(r.Context(), "export complete", "entity", entity, "rows", rows)
}

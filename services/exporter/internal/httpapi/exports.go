package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/export"
)

// exportRequest is the seed's audit export filters; every one is optional
// and so is the body. Without a body the same names are read from the
// query string, as GET /api/admin/audit-logs takes them.
type exportRequest struct {
	Admin  string `json:"admin"`
	Action string `json:"action"`
	Entity string `json:"entity"`
	From   string `json:"from"`
	To     string `json:"to"`
}

type filterResponse struct {
	Admin  string `json:"admin,omitempty"`
	Action string `json:"action,omitempty"`
	Entity string `json:"entity,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

type exportResponse struct {
	ID          string         `json:"id"`
	Status      string         `json:"status"`
	Progress    int            `json:"progress"`
	RowsTotal   int64          `json:"rows_total"`
	RowsWritten int64          `json:"rows_written"`
	Filters     filterResponse `json:"filters"`
	CreatedAt   string         `json:"created_at"`
	StartedAt   string         `json:"started_at,omitempty"`
	FinishedAt  string         `json:"finished_at,omitempty"`
	ExpiresAt   string         `json:"expires_at,omitempty"`
	StatusURL   string         `json:"status_url"`
	DownloadURL string         `json:"download_url,omitempty"`
	Error       string         `json:"error,omitempty"`
}

type acceptedResponse struct {
	Success    bool   `json:"success"`
	Message    string `json:"message"`
	Processing string `json:"processing"`
	ExportID   string `json:"export_id"`
	Status     string `json:"status"`
	StatusURL  string `json:"status_url"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (a *API) toResponse(e export.Export) exportResponse {
	out := exportResponse{
		ID: e.ID.String(), Status: string(e.Status), Progress: e.Progress(),
		RowsTotal: e.RowsTotal, RowsWritten: e.RowsWritten,
		Filters: filterResponse{Admin: e.Filter.Admin, Action: e.Filter.Action, Entity: e.Filter.Entity,
			From: stamp(e.Filter.From), To: stamp(e.Filter.To)},
		CreatedAt: stamp(e.CreatedAt), StartedAt: stamp(e.StartedAt), FinishedAt: stamp(e.FinishedAt),
		StatusURL: a.links.Status(e.ID), Error: e.Error,
	}
	if e.Status == export.Completed {
		out.ExpiresAt = stamp(e.ExpiresAt)
		out.DownloadURL = a.links.Download(e.ID)
	}
	return out
}

func (a *API) requestExport(w http.ResponseWriter, r *http.Request) {
	admin, ok := a.auth.Admin(r.Context())
	if !ok {
		web.WriteError(w, r, a.log, web.Errorf(http.StatusUnauthorized, "Unauthorized", "no admin in the request"))
		return
	}
	q := r.URL.Query()
	req := exportRequest{Admin: q.Get("admin"), Action: q.Get("action"), Entity: q.Get("entity"), From: q.Get("from"), To: q.Get("to")}
	// The seed's client posts without a body: that is an export of everything.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
	if err != nil {
		a.fail(w, r, web.Errorf(http.StatusRequestEntityTooLarge, "Request body too large", "the body may be at most 8192 bytes"))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Header.Get("Content-Type") != "" && (err != nil || mt != "application/json") {
			a.fail(w, r, &web.Error{Status: http.StatusUnsupportedMediaType, Message: "Unsupported media type",
				Detail: "send the body as application/json"})
			return
		}
		req = exportRequest{}
		if err := web.DecodeJSON(bytes.NewReader(body), 8<<10, &req); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	f, err := audit.ParseFilter(audit.FilterInput(req))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.exports.Request(r.Context(), admin, a.clients.Addr(r), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", a.links.Status(e.ID))
	web.WriteJSON(w, http.StatusAccepted, acceptedResponse{
		Success:    true,
		Message:    "Audit log export started in background. You will receive an email with the download link when it is complete.",
		Processing: "background",
		ExportID:   e.ID.String(),
		Status:     string(e.Status),
		StatusURL:  a.links.Status(e.ID),
	})
}

func (a *API) exportStatus(w http.ResponseWriter, r *http.Request) {
	id, err := exportID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.exports.Get(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if e.Status == export.Failed {
		a.fail(w, r, web.Errorf(http.StatusGone, "Export failed", "%s", e.Error))
		return
	}
	web.WriteJSON(w, http.StatusOK, a.toResponse(e))
}

func (a *API) listExports(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			a.fail(w, r, web.Invalid(map[string]string{"limit": "must be a whole number from 1 to 100"}))
			return
		}
		limit = n
	}
	all, err := a.exports.List(r.Context(), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]exportResponse, 0, len(all))
	for _, e := range all {
		out = append(out, a.toResponse(e))
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
}

// download streams a completed export's file from the bucket, whichever
// replica wrote it, with its length, an ETag and Last-Modified (so a
// client can resume with a Range or revalidate).
func (a *API) download(w http.ResponseWriter, r *http.Request) {
	id, err := exportID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.exports.Download(r.Context(), id)
	switch {
	case errors.Is(err, export.ErrFailed):
		a.fail(w, r, web.Errorf(http.StatusGone, "Export failed", "%s", e.Error))
		return
	case errors.Is(err, export.ErrNotReady):
		w.Header().Set("Retry-After", "5")
		a.fail(w, r, web.Errorf(http.StatusConflict, "Export not ready",
			"the export is %s (%d%%); its status is at %s", e.Status, e.Progress(), a.links.Status(id)))
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	f, err := a.files.Open(r.Context(), e.File)
	if errors.Is(err, objstore.ErrNotFound) {
		a.fail(w, r, web.NotFound("the export's file is gone"))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer f.Close()
	name := fmt.Sprintf("audit-logs-%s-%s.csv", e.CreatedAt.UTC().Format("20060102-150405"), e.ID.String()[:8])
	h := w.Header()
	h.Set("Content-Type", export.ContentType)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	objstore.Serve(w, r, f)
}

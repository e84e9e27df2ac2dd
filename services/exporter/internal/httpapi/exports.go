package httpapi

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/export"
)

// exportRequest is the document's AuditExportRequest: the seed's audit
// export filters, every one optional, and so is the body (the seed's
// client posts none: an export of everything).
type exportRequest struct {
	// AdminID is the acting admin's id, as the document names it.
	AdminID string `json:"admin_id"`
	// Admin is an admin's id or e-mail address; the chaos load tool
	// filters by its scenario admin's e-mail this way.
	Admin  string `json:"admin"`
	Action string `json:"action"`
	Entity string `json:"entity"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// filterNames are the filters; a POST that sends them in its query string
// is refused rather than read as an export of everything.
var filterNames = []string{"admin_id", "admin", "action", "entity", "from", "to"}

type filterResponse struct {
	AdminID string `json:"admin_id,omitempty"`
	Admin   string `json:"admin,omitempty"`
	Action  string `json:"action,omitempty"`
	Entity  string `json:"entity,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
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
		Filters: filterResponse{AdminID: e.Filter.AdminID, Admin: e.Filter.Admin, Action: e.Filter.Action, Entity: e.Filter.Entity,
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
	for _, name := range filterNames {
		if q.Has(name) {
			a.fail(w, r, &web.Error{Status: http.StatusBadRequest, Message: "Invalid request",
				Detail: "send the filters in the JSON body", Fields: map[string]string{name: "not a query parameter"}})
			return
		}
	}
	var req exportRequest
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

// exportPage is the document's ExportPage.
type exportPage struct {
	Items []exportResponse `json:"items"`
	// NextCursor is null on the last page.
	NextCursor *string `json:"next_cursor"`
}

func (a *API) listExports(w http.ResponseWriter, r *http.Request) {
	after, limit, err := pageQuery(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, next, err := a.exports.List(r.Context(), after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := exportPage{Items: make([]exportResponse, 0, len(page))}
	for _, e := range page {
		out.Items = append(out.Items, a.toResponse(e))
	}
	if next != nil {
		c := encodeCursor(*next)
		out.NextCursor = &c
	}
	web.WriteJSON(w, http.StatusOK, out)
}

package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/export"
)

// download streams a completed export's file from the bucket, whichever
// replica wrote it, with its length, an ETag and Last-Modified (so a
// client can resume with a Range or revalidate). It sends no trailers:
// the document declares none, and a validating proxy refuses what it
// does not know.
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
	if f.Digest != "" {
		h.Set("Etag", f.ETag())
	}
	// objstore.Serve's http.ServeContent, over a reader that remembers the
	// error ServeContent drops: a file that cannot be read to its end
	// must not look like a complete download.
	body := &checkedReader{ReadSeeker: f}
	http.ServeContent(&jsonErrors{ResponseWriter: w}, r, "", f.ModTime, body)
	if body.err != nil {
		a.log.ErrorContext(r.Context(), "export download broke off", "export_id", e.ID.String(),
			"request_id", web.RequestID(r.Context()), "error", body.err)
		// The status and part of the body are out: the one honest signal
		// left is to abort the connection (HTTP/1.1) or reset the stream
		// (HTTP/2), so the client sees a failed transfer, not a short file.
		// net/http would do so for a body short of its Content-Length
		// anyway; aborting says it outright, whatever the length header.
		panic(http.ErrAbortHandler)
	}
}

// checkedReader keeps the first error other than io.EOF its reader gave.
type checkedReader struct {
	io.ReadSeeker
	err error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.ReadSeeker.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && c.err == nil {
		c.err = err
	}
	return n, err
}

// jsonErrors gives the errors http.ServeContent answers itself (a 416
// in text/plain, a 412 without a body) the API's JSON error body, as
// every other error of the API has.
type jsonErrors struct {
	http.ResponseWriter
	failed bool
}

func (j *jsonErrors) WriteHeader(code int) {
	if code < http.StatusBadRequest {
		j.ResponseWriter.WriteHeader(code)
		return
	}
	j.failed = true
	j.Header().Del("Content-Disposition") // no file follows
	detail := ""
	if code == http.StatusRequestedRangeNotSatisfiable {
		detail = "the range lies outside the file; Content-Range gives its size"
	}
	web.WriteJSON(j.ResponseWriter, code, &web.Error{Status: code, Message: http.StatusText(code), Detail: detail})
}

func (j *jsonErrors) Write(p []byte) (int, error) {
	if j.failed {
		return len(p), nil // ServeContent's own text, replaced by the JSON
	}
	return j.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (j *jsonErrors) Unwrap() http.ResponseWriter { return j.ResponseWriter }

package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/booking/internal/images"
)

// putEventImage takes the image as the raw body or as the first file of a
// multipart form, sniffs its type and stores it.
func (a *API) putEventImage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	data, err := a.readImage(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctype, err := images.Sniff(data)
	if err != nil {
		a.fail(w, r, &web.Error{Status: http.StatusUnsupportedMediaType, Message: "Unsupported image type",
			Detail: "send a JPEG, PNG, GIF or WebP image"})
		return
	}
	e, err := a.svc.SetEventImage(r.Context(), a.actor(r), id, data, ctype)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, toEventResponse(e))
}

func (a *API) readImage(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	// The multipart envelope adds a little to the image itself.
	body := http.MaxBytesReader(w, r.Body, a.cfg.MaxImageBytes+16<<10)
	var src io.Reader = body
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && strings.HasPrefix(mt, "multipart/") {
		part, err := firstFile(multipart.NewReader(body, params["boundary"]))
		if err != nil {
			return nil, err
		}
		src = part
	}
	data, err := io.ReadAll(io.LimitReader(src, a.cfg.MaxImageBytes+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(len(data)) > a.cfg.MaxImageBytes:
		return nil, &web.Error{Status: http.StatusRequestEntityTooLarge, Message: "Image too large",
			Detail: fmt.Sprintf("an image may be at most %d bytes", a.cfg.MaxImageBytes)}
	case err != nil:
		return nil, &web.Error{Status: http.StatusBadRequest, Message: "Unreadable upload", Detail: "the body could not be read"}
	case len(data) == 0:
		return nil, &web.Error{Status: http.StatusUnprocessableEntity, Message: "Validation failed",
			Fields: map[string]string{"image": "is required"}}
	}
	return data, nil
}

func firstFile(mr *multipart.Reader) (io.Reader, error) {
	for {
		p, err := mr.NextPart()
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, &web.Error{Status: http.StatusRequestEntityTooLarge, Message: "Image too large"}
		case err != nil:
			return nil, &web.Error{Status: http.StatusBadRequest, Message: "Malformed multipart body",
				Detail: "send the image as the body or as a file field of a multipart form"}
		}
		if p.FileName() != "" {
			return p, nil
		}
	}
}

// getEventImage serves an event's image with the type it was sniffed as,
// and headers that keep a browser from reading it as anything else. Any
// replica serves it: the image lives in the bucket, not on a disk.
func (a *API) getEventImage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	e, err := a.svc.Event(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if e.ImageType == "" {
		a.fail(w, r, web.NotFound("the event has no image"))
		return
	}
	o, err := a.images.Open(r.Context(), id)
	if errors.Is(err, images.ErrNotFound) {
		a.fail(w, r, web.NotFound("the event has no image"))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	defer o.Close()
	w.Header().Set("Content-Type", o.ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Cache-Control", "public, max-age=300")
	objstore.Serve(w, r, o)
}

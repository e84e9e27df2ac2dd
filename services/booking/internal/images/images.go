// Package images keeps event cover images in booking's Object Store
// bucket (stream.EventImages), one object per event named by its id, so
// every replica serves an image any replica stored. It decides what an
// upload is by its content: the client's Content-Type is never believed,
// so an HTML or SVG file cannot be served back as an "image" that runs
// script. The sniffed type is stored with the object and checked again
// when it is served.
package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/objstore"
)

// Allowed media types, as http.DetectContentType names them. SVG is left
// out on purpose: it can carry script.
const (
	JPEG = "image/jpeg"
	PNG  = "image/png"
	GIF  = "image/gif"
	WebP = "image/webp"
)

// ErrUnsupported means the content is not an allowed image type.
var ErrUnsupported = errors.New("not a JPEG, PNG, GIF or WebP image")

// ErrNotFound means the event has no stored image.
var ErrNotFound = errors.New("no image stored")

// Sniff returns the media type of data when it is an allowed image.
func Sniff(data []byte) (string, error) {
	switch t := http.DetectContentType(data); t {
	case JPEG, PNG, GIF, WebP:
		return t, nil
	default:
		return "", fmt.Errorf("%w (content looks like %s)", ErrUnsupported, t)
	}
}

// Store keeps images in a bucket.
type Store struct {
	bucket *objstore.Bucket
}

// New returns a Store over bucket.
func New(bucket *objstore.Bucket) *Store { return &Store{bucket: bucket} }

// name is the object of an event's image. A uuid.UUID formats as hex and
// dashes only, which objstore.ValidName accepts.
func name(id uuid.UUID) string { return id.String() }

// Save stores data, of the sniffed contentType, as event id's image. The
// object is replaced whole: a reader sees the old image or the new one,
// and the old one's bytes are freed.
func (s *Store) Save(ctx context.Context, id uuid.UUID, data []byte, contentType string) error {
	if !slices.Contains([]string{JPEG, PNG, GIF, WebP}, contentType) {
		return fmt.Errorf("save image of event %s: %w (%s)", id, ErrUnsupported, contentType)
	}
	if _, err := s.bucket.Put(ctx, name(id), contentType, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("save image of event %s: %w", id, err)
	}
	return nil
}

// Remove deletes event id's image; a missing one is not an error.
func (s *Store) Remove(ctx context.Context, id uuid.UUID) error {
	if err := s.bucket.Delete(ctx, name(id)); err != nil {
		return fmt.Errorf("remove image of event %s: %w", id, err)
	}
	return nil
}

// Open returns event id's image for reading; ErrNotFound when there is
// none. Its ContentType is the type sniffed when it was saved, checked
// against the allowed ones again here; the caller closes it.
func (s *Store) Open(ctx context.Context, id uuid.UUID) (*objstore.Object, error) {
	o, err := s.bucket.Open(ctx, name(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("open image of event %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open image of event %s: %w", id, err)
	}
	switch o.ContentType {
	case JPEG, PNG, GIF, WebP:
		return o, nil
	}
	o.Close()
	return nil, fmt.Errorf("open image of event %s: stored as %q: %w", id, o.ContentType, ErrUnsupported)
}

// Package images keeps event cover images as files under one directory,
// named by event id, and decides what an upload is by its content: the
// client's Content-Type is never believed, so an HTML or SVG file cannot
// be served back as an "image" that runs script.
package images

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/uuid"
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

// Sniff returns the media type of data when it is an allowed image.
func Sniff(data []byte) (string, error) {
	switch t := http.DetectContentType(data); t {
	case JPEG, PNG, GIF, WebP:
		return t, nil
	default:
		return "", fmt.Errorf("%w (content looks like %s)", ErrUnsupported, t)
	}
}

// Dir stores images in one directory.
type Dir struct {
	path string
}

// NewDir returns a Dir at path, creating it when missing.
func NewDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o750); err != nil {
		return nil, fmt.Errorf("create image directory %s: %w", path, err)
	}
	return &Dir{path: path}, nil
}

// file is the path of an event's image. A uuid.UUID formats as hex and
// dashes only, so no id can escape the directory.
func (d *Dir) file(id uuid.UUID) string { return filepath.Join(d.path, id.String()) }

// Save writes data as id's image atomically: to a temporary file first,
// then renamed over the old one, so a reader never sees half an image.
func (d *Dir) Save(id uuid.UUID, data []byte) error {
	tmp, err := os.CreateTemp(d.path, ".upload-*")
	if err != nil {
		return fmt.Errorf("save image of event %s: %w", id, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save image of event %s: %w", id, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save image of event %s: %w", id, err)
	}
	if err := os.Rename(tmp.Name(), d.file(id)); err != nil {
		return fmt.Errorf("save image of event %s: %w", id, err)
	}
	return nil
}

// Remove deletes id's image; a missing one is not an error.
func (d *Dir) Remove(id uuid.UUID) error {
	if err := os.Remove(d.file(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove image of event %s: %w", id, err)
	}
	return nil
}

// Open returns id's image and its sniffed media type; os.ErrNotExist
// when there is none.
func (d *Dir) Open(id uuid.UUID) (*os.File, string, error) {
	f, err := os.Open(d.file(id))
	if err != nil {
		return nil, "", err
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, "", fmt.Errorf("read image of event %s: %w", id, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("read image of event %s: %w", id, err)
	}
	t, err := Sniff(head[:n])
	if err != nil {
		f.Close()
		return nil, "", err
	}
	return f, t, nil
}

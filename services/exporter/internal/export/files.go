package export

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"

	"github.com/google/uuid"
)

// Files keeps the export files where every replica of the exporter
// reaches them: the EXPORTS bucket of JetStream's Object Store
// (libs/objstore), so the replica that serves a download need not be the
// one that wrote the file. The names given are always this package's own
// (RunFile), never a request's.
type Files interface {
	// Write stores what write writes as the file name, streaming it to
	// the store while it is produced, and returns its size. An error from
	// write, or ctx ending, leaves no file.
	Write(ctx context.Context, name, contentType string, write func(io.Writer) error) (int64, error)
	// Delete removes the file name; one already gone is no error.
	Delete(ctx context.Context, name string) error
}

// ContentType is the media type of an export file.
const ContentType = "text/csv; charset=utf-8"

// ErrBadName is returned for a file name this package would never make.
var ErrBadName = errors.New("not an export file name")

// NewFileName returns a fresh, unguessable name for a new export (256
// random bits): the stem of the names of its runs' files.
func NewFileName() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:]) + ".csv"
}

// RunFile is the name of the file that the run holding claim writes for
// the export named file. Each run writes a file of its own, so a run that
// lost its lease can never overwrite, or delete, the file of the run that
// took over; the one that completes records its name (Done.File).
func RunFile(file string, claim uuid.UUID) string {
	return strings.TrimSuffix(file, ".csv") + "-" + hex.EncodeToString(claim[:]) + ".csv"
}

// IsFile reports whether name has a shape this package makes: an
// export's name (NewFileName) or one of its runs' files (RunFile).
func IsFile(name string) bool {
	stem, ok := strings.CutSuffix(name, ".csv")
	if !ok {
		return false
	}
	if isHex(stem, 64) {
		return true
	}
	file, claim, ok := strings.Cut(stem, "-")
	return ok && isHex(file, 64) && isHex(claim, 32)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

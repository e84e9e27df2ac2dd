package export

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Files is the export directory. Every access goes through an os.Root, so
// no name can reach outside it, and names are checked against the shapes
// this package makes, so a name from elsewhere is refused before it is used.
type Files struct {
	root *os.Root
}

// isFinal reports whether name has the shape NewFileName makes:
// 64 lower-case hex digits and ".csv".
func isFinal(name string) bool {
	hexPart, ok := strings.CutSuffix(name, ".csv")
	return ok && isHex(hexPart, 64)
}

// isPart reports whether name has the shape PartName makes.
func isPart(name string) bool {
	rest, ok := strings.CutSuffix(name, ".part")
	if !ok || len(rest) < 33 {
		return false
	}
	final, claim := rest[:len(rest)-33], rest[len(rest)-33:]
	return isFinal(final) && claim[0] == '.' && isHex(claim[1:], 32)
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

// ErrBadName is returned for a file name this package would never make.
var ErrBadName = errors.New("not an export file name")

// OpenFiles opens (and creates when missing) the export directory.
func OpenFiles(dir string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create export directory %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open export directory %s: %w", dir, err)
	}
	return &Files{root: root}, nil
}

// Close releases the directory.
func (f *Files) Close() error { return f.root.Close() }

// NewFileName returns a fresh, unguessable file name (256 random bits).
func NewFileName() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:]) + ".csv"
}

// PartName is the name a run writes to before the file is complete; each
// claim writes its own, so two runs can never write one file.
func PartName(file string, claim uuid.UUID) string {
	return file + "." + hex.EncodeToString(claim[:]) + ".part"
}

// Create creates (or truncates) a part file for writing.
func (f *Files) Create(part string) (*os.File, error) {
	if !isPart(part) {
		return nil, fmt.Errorf("create %q: %w", part, ErrBadName)
	}
	file, err := f.root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create export file: %w", err)
	}
	return file, nil
}

// Publish renames a finished part file to its final name.
func (f *Files) Publish(part, final string) error {
	if !isPart(part) || !isFinal(final) || !strings.HasPrefix(part, final+".") {
		return fmt.Errorf("publish %q as %q: %w", part, final, ErrBadName)
	}
	if err := f.root.Rename(part, final); err != nil {
		return fmt.Errorf("publish export file: %w", err)
	}
	return nil
}

// Open opens a finished export file for reading.
func (f *Files) Open(name string) (*os.File, error) {
	if !isFinal(name) {
		return nil, fmt.Errorf("open %q: %w", name, ErrBadName)
	}
	file, err := f.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open export file: %w", err)
	}
	return file, nil
}

// Remove deletes a final or part file; a file already gone is no error.
func (f *Files) Remove(name string) error {
	if !isFinal(name) && !isPart(name) {
		return fmt.Errorf("remove %q: %w", name, ErrBadName)
	}
	if err := f.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove export file: %w", err)
	}
	return nil
}

// SweepParts removes part files not written to since before cutoff: the
// leftovers of runs that crashed. It returns how many it removed.
func (f *Files) SweepParts(cutoff time.Time) (int, error) {
	dir, err := f.root.Open(".")
	if err != nil {
		return 0, fmt.Errorf("list export directory: %w", err)
	}
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return 0, fmt.Errorf("list export directory: %w", err)
	}
	n := 0
	for _, e := range entries {
		if !isPart(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := f.Remove(e.Name()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

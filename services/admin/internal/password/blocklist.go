package password

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
)

// commonPasswords is SecLists' list of common and breached passwords,
// kept to those of at least 8 characters, lower-cased, sorted and without
// duplicates (README.md says where it comes from; gen_blocklist.go made it).
//
//go:embed common-passwords.txt.gz
var commonPasswords []byte

// Blocklist is a set of passwords nobody may choose, compared without
// regard to case. It is one string of the sorted, lower-cased entries,
// each ended by a newline, and the offset of each, searched by bisection:
// 4 bytes per entry on top of the text, against some 40 for a map.
type Blocklist struct {
	text string
	off  []uint32 // entry i is text[off[i] : off[i+1]-1]; the last offset is len(text)
}

// LoadBlocklist decompresses and indexes the embedded list. It takes a
// few tens of milliseconds: build it once in main and pass it down.
func LoadBlocklist() (*Blocklist, error) {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswords))
	if err != nil {
		return nil, fmt.Errorf("open common-password list: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read common-password list: %w", err)
	}
	text := string(raw)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	b := &Blocklist{text: text, off: make([]uint32, 0, bytes.Count(raw, []byte{'\n'})+1)}
	prev := ""
	for i := 0; i < len(text); {
		n := strings.IndexByte(text[i:], '\n')
		e := text[i : i+n]
		if e <= prev && len(b.off) > 0 {
			return nil, fmt.Errorf("common-password list: %q follows %q: not sorted (run gen_blocklist.go)", e, prev)
		}
		b.off = append(b.off, uint32(i))
		prev = e
		i += n + 1
	}
	b.off = append(b.off, uint32(len(text)))
	return b, nil
}

// NewBlocklist builds a blocklist of entries (tests, or another list).
func NewBlocklist(entries []string) *Blocklist {
	lower := make([]string, len(entries))
	size := 0
	for i, e := range entries {
		lower[i] = strings.ToLower(e)
		size += len(lower[i]) + 1
	}
	slices.Sort(lower)
	lower = slices.Compact(lower)
	var t strings.Builder
	t.Grow(size)
	off := make([]uint32, 0, len(lower)+1)
	for _, e := range lower {
		off = append(off, uint32(t.Len()))
		t.WriteString(e)
		t.WriteByte('\n')
	}
	off = append(off, uint32(t.Len()))
	return &Blocklist{text: t.String(), off: off}
}

// Len is the number of distinct entries.
func (b *Blocklist) Len() int { return len(b.off) - 1 }

// Bytes is the memory the set holds: its text and offsets.
func (b *Blocklist) Bytes() int { return len(b.text) + 4*cap(b.off) }

func (b *Blocklist) at(i int) string { return b.text[b.off[i] : b.off[i+1]-1] }

// Contains reports whether pw, ignoring case, is on the list.
func (b *Blocklist) Contains(pw string) bool {
	if b == nil {
		return false
	}
	pw = strings.ToLower(pw)
	lo, hi := 0, b.Len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch c := strings.Compare(b.at(mid), pw); {
		case c == 0:
			return true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}

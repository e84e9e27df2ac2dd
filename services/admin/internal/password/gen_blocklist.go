//go:build ignore

// gen_blocklist writes the shipped common-password list (README.md):
//
//	go run gen_blocklist.go common-passwords-seclists.txt.gz common-passwords.txt.gz
//
// It keeps the entries of at least 8 characters, lower-cased, sorted by
// byte and without duplicates, one per line, so LoadBlocklist only has to
// decompress and index them.
package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

func main() {
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "gen_blocklist:", err)
		os.Exit(1)
	}
}

func run(inPath, outPath string) error {
	in, err := os.Open(inPath)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(zr)
	n := 0
	var kept []string
	for sc.Scan() {
		n++
		l := sc.Text()
		if utf8.RuneCountInString(l) >= 8 {
			kept = append(kept, strings.ToLower(l))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	k := len(kept)
	slices.Sort(kept)
	kept = slices.Compact(kept)
	out, err := os.Create(outPath)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(out, gzip.BestCompression) // the level is valid
	for _, l := range kept {
		fmt.Fprintln(zw, l)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "read %d, kept %d of at least 8 characters, %d distinct\n", n, k, len(kept))
	return out.Close()
}

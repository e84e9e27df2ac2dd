package bench

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// RawResult is what RunRawHTTP measured.
type RawResult struct {
	Sent
	// Latencies holds, for every measured request answered 2xx, the time
	// from its due time to the end of its answer.
	Latencies []time.Duration
	// Lags holds, for every measured request sent, how long after its due
	// time it was written: the generator's own delay (and a connection's
	// wait for its previous answer), already inside Latencies. Its p99 says
	// whether the generator kept its schedule.
	Lags []time.Duration
	// Errors counts measured requests that failed or were answered non-2xx.
	Errors int
	// FirstErr is the first of them, for the report.
	FirstErr error
}

// errNoLength is an answer the raw client cannot delimit.
var errNoLength = errors.New("answer without Content-Length (chunked answers are not supported)")

// parseAnswer reads one HTTP/1.x answer at the start of b without
// allocating: the benchmark's answers are small, fixed, with a
// Content-Length. It returns its status, its length in b (0 while
// incomplete) and whether the server will close the connection.
func parseAnswer(b []byte) (status, size int, closing bool, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > 64<<10 {
			return 0, 0, false, errors.New("answer header over 64 KiB")
		}
		return 0, 0, false, nil
	}
	if len(b) < 12 || !bytes.HasPrefix(b, []byte("HTTP/1.")) || b[8] != ' ' {
		return 0, 0, false, fmt.Errorf("not an HTTP/1.x status line: %q", b[:min(len(b), 32)])
	}
	for _, c := range b[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, false, fmt.Errorf("bad status in %q", b[:12])
		}
		status = status*10 + int(c-'0')
	}
	closing = b[7] == '0' // HTTP/1.0 closes unless told otherwise; ours never are
	length := -1
	head := b[:end+2]
	for i := bytes.Index(head, []byte("\r\n")) + 2; i < len(head); {
		j := i + bytes.Index(head[i:], []byte("\r\n"))
		line := head[i:j]
		i = j + 2
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length = 0
			for _, c := range value {
				if c < '0' || c > '9' || length > 1<<30 {
					return 0, 0, false, fmt.Errorf("bad Content-Length %q", value)
				}
				length = length*10 + int(c-'0')
			}
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, 0, false, errNoLength
		}
	}
	if length < 0 {
		if status != 204 && status != 304 && status >= 200 {
			return 0, 0, false, errNoLength
		}
		length = 0
	}
	if len(b) < end+4+length {
		return status, 0, closing, nil
	}
	return status, end + 4 + length, closing, nil
}

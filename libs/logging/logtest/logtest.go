// Package logtest reads back the JSON log lines a service wrote (the
// format of package logging), so a test can check what an operator
// grepping the log would find: the message, the level and the fields,
// rather than a substring that any line might happen to contain.
package logtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/acube/platform/libs/testkit"
)

// Buffer collects what a logger writes; the service's goroutines and the
// test may use it at once. It is testkit's SyncBuffer (Write, String)
// with the lines decoded as JSON.
type Buffer struct {
	testkit.SyncBuffer
}

// Lines decodes everything written so far (see Parse).
func (b *Buffer) Lines(t testing.TB) []Line {
	t.Helper()
	return Parse(t, b.String())
}

// WaitFor polls until a line with msg and the fields of where has been
// written and returns the first one (see testkit.Eventually: the bound
// only stops a broken test from hanging; the test then fails showing the
// log).
func (b *Buffer) WaitFor(t testing.TB, msg string, where map[string]any) Line {
	t.Helper()
	var found Line
	testkit.Eventually(t, fmt.Sprintf("a log line %q with %v", msg, where), func() bool {
		if got := Find(b.Lines(t), msg, where); len(got) > 0 {
			found = got[0]
			return true
		}
		return false
	}, testkit.Explain(func() string { return "the log:\n" + b.String() }))
	return found
}

// NewLogger returns a JSON logger at debug level, as a service's, writing
// to a new Buffer.
func NewLogger() (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// Line is one decoded log line. JSON numbers decode as float64.
type Line map[string]any

// Msg is the line's message.
func (l Line) Msg() string { return l.Str("msg") }

// Level is the line's level: DEBUG, INFO, WARN or ERROR.
func (l Line) Level() string { return l.Str("level") }

// Str returns the string at key, or "" when it is missing or not a string.
func (l Line) Str(key string) string {
	s, _ := l[key].(string)
	return s
}

// Int returns the number at key and whether there was one.
func (l Line) Int(key string) (int64, bool) {
	f, ok := l[key].(float64)
	return int64(f), ok
}

// Has reports whether the line carries key.
func (l Line) Has(key string) bool {
	_, ok := l[key]
	return ok
}

// Parse decodes every non-empty line of out. A line that is not a JSON
// object fails the test: every service logs JSON, and a stray line would
// be one an operator's tools cannot read.
func Parse(t testing.TB, out string) []Line {
	t.Helper()
	var lines []Line
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		raw := strings.TrimSpace(sc.Text())
		if raw == "" {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, raw)
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read log: %v", err)
	}
	return lines
}

// Find returns the lines whose message is msg and whose fields hold every
// key and value of where; integer values match the JSON numbers they
// were logged as.
func Find(lines []Line, msg string, where map[string]any) []Line {
	var out []Line
	for _, l := range lines {
		if l.Msg() == msg && l.matches(where) {
			out = append(out, l)
		}
	}
	return out
}

func (l Line) matches(where map[string]any) bool {
	for k, v := range where {
		switch n := v.(type) {
		case int:
			v = float64(n)
		case int64:
			v = float64(n)
		}
		if got, ok := l[k]; !ok || got != v {
			return false
		}
	}
	return true
}

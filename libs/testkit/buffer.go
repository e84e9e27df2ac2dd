package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// SyncBuffer collects what a logger or a child process writes; the
// writers' goroutines and the test may use it at once. The zero value is
// ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns everything written so far split into lines, without a
// trailing empty one.
func (s *SyncBuffer) Lines() []string {
	out := strings.TrimSuffix(s.String(), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// Contains reports whether substr has been written.
func (s *SyncBuffer) Contains(substr string) bool { return strings.Contains(s.String(), substr) }

// WaitFor waits until substr has been written (see Eventually), and
// fails the test showing everything written when it is not.
func (s *SyncBuffer) WaitFor(t testing.TB, substr string, opts ...Option) {
	t.Helper()
	opts = append(opts, Explain(func() string { return "written so far:\n" + s.String() }))
	EventuallyErr(t, fmt.Sprintf("%q to be written", substr), func() error {
		if s.Contains(substr) {
			return nil
		}
		return errors.New("not written yet")
	}, opts...)
}

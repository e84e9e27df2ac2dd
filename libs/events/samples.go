package events

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
)

// samples holds one sample event of every type a service publishes, each
// written by the publisher's own test (eventstest.Golden) and read by
// every consumer's test, so no service imports another to check that it
// understands what the other sends.
//
//go:embed testdata/samples/*.json
var samples embed.FS

// Samples returns the sample events, ordered by file name (the type), for
// consumers' tests: decode every sample of each type a consumer reads.
func Samples() ([]Event, error) {
	names, err := fs.Glob(samples, "testdata/samples/*.json")
	if err != nil {
		return nil, fmt.Errorf("list sample events: %w", err)
	}
	slices.Sort(names)
	out := make([]Event, 0, len(names))
	for _, name := range names {
		b, err := samples.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read sample %s: %w", path.Base(name), err)
		}
		ev, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", path.Base(name), err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// Package eventstest keeps the sample events of libs/events up to date
// from the publishers' tests: each publisher builds a sample of every type
// it publishes with its own code and checks it against the file consumers
// read (events.Samples). Run a publisher's test with -update-samples after
// changing what it publishes.
package eventstest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
)

var update = flag.Bool("update-samples", false, "rewrite libs/events/testdata/samples from this publisher's code")

// At is the time every sample tells, so samples do not change from run to
// run.
var at = time.Date(2030, time.March, 14, 9, 30, 0, 0, time.UTC)

// Golden checks (or, with -update-samples, writes) the sample of ev's
// type, named file (its type unless the type has several samples, such as
// audit.<entity>.<action>). The envelope's id and time are fixed; the key,
// source and data are the publisher's.
func Golden(t *testing.T, ev events.Event, file string) {
	t.Helper()
	if ev.Key == "" {
		t.Errorf("sample %s has no key: its data must implement events.Keyed", ev.Type)
	}
	ev.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("acube:sample:"+file))
	ev.OccurredAt = at
	got, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatalf("encode sample %s: %v", file, err)
	}
	got = append(got, '\n')
	name := filepath.Join(dir(t), file+".json")
	if *update {
		if err := os.WriteFile(name, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("sample %s: %v (run this test with -update-samples)", file, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("sample %s is out of date (run this test with -update-samples and review the diff):\n got: %s\nwant: %s", file, got, want)
	}
}

// dir is libs/events/testdata/samples in the source tree.
func dir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("eventstest: cannot find its own source")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "samples")
}

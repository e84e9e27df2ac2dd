package objstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/stream"
)

// Environment of the child process TestIntegrationStreamingMemoryIsFlat
// runs: the server and the object size.
const (
	childURL   = "OBJSTORE_CHILD_URL"
	childBytes = "OBJSTORE_CHILD_BYTES"
)

// usage is what the child reports.
type usage struct {
	PeakRSSKB  int64  `json:"peak_rss_kb"`
	TotalAlloc uint64 `json:"total_alloc"`
	Read       int64  `json:"read"`
}

// TestIntegrationStreamingMemoryIsFlat writes an object through Write (a
// producer making small writes, as the CSV writer does) and reads it back
// through Open, in a child process of its own so the in-process server's
// memory does not count, for 16 MiB and for 128 MiB. Streaming both ways
// means the child's peak RSS hardly grows with the object: at most 1.2×
// (the export benchmark's target) and far below the object's size.
func TestIntegrationStreamingMemoryIsFlat(t *testing.T) {
	_, srv := objstoretest.Start(t, stream.BucketSpec{Name: "MEMORY", MaxBytes: 512 << 20})
	run := func(size int64) usage {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStreamChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childURL+"="+srv.URL(), childBytes+"="+strconv.FormatInt(size, 10))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child for %d bytes: %v: %s", size, err, out)
		}
		var u usage
		line := out[:bytes.IndexByte(out, '\n')]
		if err := json.Unmarshal(line, &u); err != nil {
			t.Fatalf("child output %q: %v", out, err)
		}
		if u.Read != size {
			t.Fatalf("child read back %d bytes of %d", u.Read, size)
		}
		return u
	}
	small, big := run(16<<20), run(128<<20)
	ratio := float64(big.PeakRSSKB) / float64(small.PeakRSSKB)
	t.Logf("peak RSS 16 MiB: %d kB, 128 MiB: %d kB (%.2fx); allocated %d / %d kB",
		small.PeakRSSKB, big.PeakRSSKB, ratio, small.TotalAlloc>>10, big.TotalAlloc>>10)
	if ratio > 1.2 {
		t.Errorf("peak RSS grows %.2fx from a 16 MiB to a 128 MiB object, want at most 1.2x", ratio)
	}
	if big.PeakRSSKB > 64<<10 {
		t.Errorf("peak RSS %d kB for a 128 MiB object: it is being buffered", big.PeakRSSKB)
	}
}

// TestStreamChild is the child of TestIntegrationStreamingMemoryIsFlat;
// without its environment it does nothing.
func TestStreamChild(t *testing.T) {
	url := os.Getenv(childURL)
	if url == "" {
		t.Skip("run by TestIntegrationStreamingMemoryIsFlat")
	}
	size, err := strconv.ParseInt(os.Getenv(childBytes), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	b := objstoretest.Replica(t, url, "MEMORY")
	ctx := context.Background()
	name := fmt.Sprintf("object-%d", size)
	line := bytes.Repeat([]byte("0190a1b2-c3d4,2025-01-01T00:00:00Z,admin@example.org,update,session,\"{}\"\n"), 50)
	_, err = b.Write(ctx, name, "text/csv", func(w io.Writer) error {
		for left := size; left > 0; {
			n := min(int64(len(line)), left)
			if _, err := w.Write(line[:n]); err != nil {
				return err
			}
			left -= n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	read, err := io.Copy(io.Discard, o)
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	json.NewEncoder(os.Stdout).Encode(usage{PeakRSSKB: peakRSS(t), TotalAlloc: ms.TotalAlloc, Read: read})
}

// peakRSS is this process's VmHWM, in kB.
func peakRSS(t *testing.T) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

package stream

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// natsValues is the NATS chart's values file the production cluster runs.
const natsValues = "../../deploy/k8s/infra/nats/values.yaml"

// Margins the storage check keeps: the catalog may fill at most this share
// of max_file_store (room for one more stream without a resize), and
// max_file_store at most this share of the volume (raft logs, consumer
// state and indexes live beside the streams and are not reserved).
const (
	catalogShare = 0.85
	storeShare   = 0.85
)

// TestCatalogFitsFileStore reads the file store limit and the volume size
// from the NATS values file and checks that every node can reserve every
// stream of the catalog: JetStream counts each stream's MaxBytes once per
// replica on the node holding it, and on the three-node R3 cluster each
// node holds a replica of every stream. A server whose reservations would
// pass max_file_store refuses the stream (err 10047).
func TestCatalogFitsFileStore(t *testing.T) {
	values, err := os.ReadFile(natsValues)
	if err != nil {
		t.Fatal(err)
	}
	fileStore := section(t, string(values), "fileStore")
	maxStore := size(t, field(t, fileStore, "maxSize"))
	volume := size(t, field(t, section(t, fileStore, "pvc"), "size"))

	// A stream's replicas sit on distinct nodes, so a node holds at most
	// one of each: with R3 on three nodes, exactly one of every stream.
	var perNode int64
	for _, s := range Catalog(3) {
		perNode += s.MaxBytes
	}
	// Object Store buckets are streams too (OBJ_<name>), reserved alike.
	for _, b := range Buckets(3) {
		perNode += b.MaxBytes
	}
	t.Logf("catalog reserves %s per node; max_file_store %s; volume %s", gib(perNode), gib(maxStore), gib(volume))
	if float64(perNode) > catalogShare*float64(maxStore) {
		t.Errorf("the catalog reserves %s on every node, more than %.0f%% of max_file_store %s", gib(perNode), 100*catalogShare, gib(maxStore))
	}
	if float64(maxStore) > storeShare*float64(volume) {
		t.Errorf("max_file_store %s is more than %.0f%% of the %s volume", gib(maxStore), 100*storeShare, gib(volume))
	}
}

// TestCatalog checks what every stream of the platform must state.
func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Catalog(3) {
		if seen[s.Name] {
			t.Errorf("stream %s is listed twice", s.Name)
		}
		seen[s.Name] = true
		if _, err := s.config(); err != nil {
			t.Error(err)
		}
		if s.Replicas != 3 || s.AllowShrink || s.CreateOnly {
			t.Errorf("%s: replicas %d, allow shrink %v, create only %v; want the owner's plain spec at 3", s.Name, s.Replicas, s.AllowShrink, s.CreateOnly)
		}
	}
}

// section returns the lines indented under "key:" in a YAML text.
func section(t *testing.T, text, key string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != key+":" {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		var out []string
		for _, m := range lines[i+1:] {
			body := strings.TrimSpace(m)
			if body != "" && !strings.HasPrefix(body, "#") && len(m)-len(strings.TrimLeft(m, " ")) <= indent {
				break
			}
			out = append(out, m)
		}
		return strings.Join(out, "\n")
	}
	t.Fatalf("no %q section in %s", key, natsValues)
	return ""
}

// field returns the value of the first "key: value" line in text.
func field(t *testing.T, text, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key) + `:\s*(\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s in %s", key, natsValues)
	}
	return m[1]
}

// size parses a Kubernetes quantity with a binary suffix (20Gi) or a NATS
// size (16G is 10^9-based there, 16GB and 16Gi 2^30-based).
func size(t *testing.T, s string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)([KMGT]?)(i|B|iB)?$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("size %q: want a number with K, M, G or T and i", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	base := int64(1000)
	if m[3] != "" {
		base = 1024
	}
	if m[2] != "" {
		for range strings.Index("KMGT", m[2]) + 1 {
			n *= base
		}
	}
	return n
}

func gib(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }

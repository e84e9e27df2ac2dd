// Package images checks that each service's image builds from its own
// module and libs alone, as its Dockerfile does, without go.work.
package images

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var services = []string{"gateway", "booking", "admin", "mailer", "exporter"}

// TestIntegrationServicesBuildFromTheirModuleAndLibsAlone copies what each
// Dockerfile copies (libs and the service's directory) to an empty place
// and builds there with GOWORK=off, as the image build does.
func TestIntegrationServicesBuildFromTheirModuleAndLibsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every service; skipped under -short")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			copied := dockerfileSources(t, filepath.Join(root, "services", svc, "Dockerfile"))
			for _, src := range copied {
				if src != "libs" && src != "services/"+svc {
					t.Errorf("Dockerfile copies %s; an image may use only libs and services/%s", src, svc)
				}
			}
			dir := t.TempDir()
			for _, src := range []string{"libs", "services/" + svc} {
				cp := exec.Command("cp", "-r", filepath.Join(root, src), filepath.Join(dir, src))
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, src)), 0o755); err != nil {
					t.Fatal(err)
				}
				if out, err := cp.CombinedOutput(); err != nil {
					t.Fatalf("copy %s: %v\n%s", src, err, out)
				}
			}
			build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", svc), "./cmd/"+svc)
			build.Dir = filepath.Join(dir, "services", svc)
			build.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false -mod=readonly")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("build %s without go.work: %v\n%s", svc, err, out)
			}
		})
	}
}

// dockerfileSources lists the directories a Dockerfile's build stage
// copies from the context.
func dockerfileSources(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "COPY" || strings.HasPrefix(fields[1], "--from") {
			continue
		}
		for _, src := range fields[1 : len(fields)-1] {
			parts := strings.Split(strings.TrimSuffix(src, "/"), "/")
			top := parts[0]
			if top == "services" && len(parts) > 1 {
				top += "/" + parts[1]
			}
			if !seen[top] {
				seen[top] = true
				out = append(out, top)
			}
		}
	}
	return out
}

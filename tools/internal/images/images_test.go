// Package images checks deploy/Dockerfile, the one file every service's
// image is built from (`make images`: --build-arg SERVICE=<svc>), without a
// Docker engine: the file is read with ${SERVICE} put in for each service of
// the Makefile's SERVICES, and what it copies, builds, links and runs is
// followed as text. An image builds from its own module and libs alone,
// without go.work; its entrypoint reaches the binary built from
// ./cmd/<svc>, which keeps its name /usr/local/bin/<svc>; the manifests run
// it by that name.
package images

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/acube/platform/tools/internal/manifests"
	appsv1 "k8s.io/api/apps/v1"
)

// dockerfile is the one Dockerfile, relative to the repository root.
const dockerfile = "deploy/Dockerfile"

// repo is the repository root, from this package's directory (where go
// test runs it).
const repo = "../../.."

// services are the Makefile's SERVICES: the images `make images` builds.
func services(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SERVICES\s*:?=(.*)$`).FindSubmatch(b)
	if m == nil || len(strings.Fields(string(m[1]))) == 0 {
		t.Fatal("Makefile: no SERVICES := line")
	}
	return strings.Fields(string(m[1]))
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repo, dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var serviceRef = regexp.MustCompile(`\$\{SERVICE\}|\$SERVICE\b`)

// expand puts svc in for $SERVICE and ${SERVICE}, as the build argument
// does in COPY and WORKDIR and the shell does in RUN.
func expand(s, svc string) string { return serviceRef.ReplaceAllLiteralString(s, svc) }

// words splits a shell command line into words, quotes removed, with
// ; && || { } as words of their own: enough for the commands of a RUN.
func words(s string) []string {
	var out []string
	var w strings.Builder
	inWord := false
	var quote rune
	flush := func() {
		if inWord {
			out = append(out, w.String())
		}
		w.Reset()
		inWord = false
	}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			flush()
		case r == ';':
			flush()
			out = append(out, ";")
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	flush()
	return out
}

// commands splits a RUN's arguments (its --mount and other flags dropped)
// into simple commands.
func commands(run string) [][]string {
	ws := words(run)
	for len(ws) > 0 && strings.HasPrefix(ws[0], "--") {
		ws = ws[1:]
	}
	var out [][]string
	var cur []string
	for _, w := range ws {
		switch w {
		case "&&", "||", ";", "{", "}":
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
		default:
			cur = append(cur, w)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// node is a file of the model: a binary built from a package, or a link.
type node struct {
	pkg  string // the package's directory in the build stage
	link string // the link's target as written
}

// image is what the Dockerfile does for one service, followed as text.
type image struct {
	svc        string
	sources    []string          // what the build stage copies from the context (libs, services/<svc>)
	copied     map[string]string // build-stage directory -> context path it was copied from
	workdir    string            // the build stage's last WORKDIR
	buildFlags []string          // every flag of go build
	built      map[string]node   // build stage files by absolute path
	final      map[string]node   // final image files by absolute path
	base       string            // the final stage's FROM
	user       string
	entrypoint []string
	// fetches are the build stage's go mod downloads, each with what the
	// context had put in place before it.
	fetches []fetch
}

// fetch is a go mod download of the build stage: its directory, and the
// context's COPYs that ran before it.
type fetch struct {
	dir    string
	copies []contextCopy
}

// contextCopy is a COPY from the context: src (a context path; a
// directory's contents when it ends in "/") to dst (absolute; a directory
// when it ends in "/").
type contextCopy struct{ src, dst string }

func abs(p, workdir string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(workdir, p)
}

// model reads the Dockerfile for svc: the last stage is the image, the
// stages before it build.
func model(t *testing.T, svc string) *image {
	t.Helper()
	img := &image{svc: svc, copied: map[string]string{}, built: map[string]node{}, final: map[string]node{}}
	ins := readDockerfile(t)
	last := -1
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	if last <= 0 {
		t.Fatalf("%s: want a build stage and a final stage", dockerfile)
	}
	seen := map[string]bool{}
	workdir := "/"
	var copies []contextCopy
	for i, in := range ins {
		args := in.args
		if in.cmd != "ENTRYPOINT" && in.cmd != "CMD" { // exec form: no expansion
			args = expand(args, svc)
		}
		final := i > last
		switch in.cmd {
		case "WORKDIR":
			workdir = abs(args, workdir)
			if !final {
				img.workdir = workdir
			}
		case "FROM":
			if i == last {
				img.base = strings.Fields(args)[0]
			}
		case "USER":
			if final {
				img.user = args
			}
		case "ENTRYPOINT":
			if final {
				if err := json.Unmarshal([]byte(args), &img.entrypoint); err != nil {
					t.Errorf("%s:%d: ENTRYPOINT %s is not the exec form: %v", dockerfile, in.line, args, err)
				}
			}
		case "COPY":
			fields := strings.Fields(args)
			var from string
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				if v, ok := strings.CutPrefix(fields[0], "--from="); ok {
					from = v
				}
				fields = fields[1:]
			}
			if len(fields) < 2 {
				t.Fatalf("%s:%d: COPY %s", dockerfile, in.line, args)
			}
			srcs, dst := fields[:len(fields)-1], abs(fields[len(fields)-1], workdir)
			if from == "" {
				for _, src := range srcs {
					to := dst
					if strings.HasSuffix(fields[len(fields)-1], "/") || len(srcs) > 1 {
						to += "/"
					}
					copies = append(copies, contextCopy{src: src, dst: to})
					parts := strings.Split(path.Clean(src), "/")
					top := parts[0]
					if top == "services" && len(parts) > 1 {
						top += "/" + parts[1]
					}
					if !seen[top] {
						seen[top] = true
						img.sources = append(img.sources, top)
					}
					if strings.HasSuffix(src, "/") {
						img.copied[dst] = path.Clean(src)
					}
				}
				continue
			}
			if !final {
				continue
			}
			for _, src := range srcs {
				src = path.Clean(src)
				for p, n := range img.built {
					switch {
					case p == src && strings.HasSuffix(fields[len(fields)-1], "/"):
						img.final[path.Join(dst, path.Base(p))] = n
					case p == src:
						img.final[dst] = n
					case strings.HasPrefix(p, src+"/"):
						img.final[path.Join(dst, strings.TrimPrefix(p, src+"/"))] = n
					}
				}
			}
		case "RUN":
			if final {
				t.Errorf("%s:%d: RUN in the distroless stage, which has no shell", dockerfile, in.line)
			}
			for _, c := range commands(args) {
				switch {
				case len(c) == 3 && c[0] == "go" && c[1] == "mod" && c[2] == "download":
					img.fetches = append(img.fetches, fetch{dir: workdir, copies: slices.Clone(copies)})
				case len(c) > 2 && c[0] == "go" && c[1] == "build":
					var out string
					var pkgs []string
					for j := 2; j < len(c); j++ {
						switch {
						case c[j] == "-o" && j+1 < len(c):
							out = c[j+1]
							j++
						case strings.HasPrefix(c[j], "-"):
							img.buildFlags = append(img.buildFlags, c[j])
						default:
							pkgs = append(pkgs, c[j])
						}
					}
					if out == "" || len(pkgs) != 1 {
						t.Fatalf("%s:%d: want go build -o <file> <one package>, got %v", dockerfile, in.line, c)
					}
					img.built[abs(out, workdir)] = node{pkg: abs(pkgs[0], workdir)}
				case len(c) == 4 && c[0] == "ln" && c[1] == "-s":
					img.built[abs(c[3], workdir)] = node{link: c[2]}
				}
			}
		}
	}
	return img
}

// resolve follows links in the final image from p to a binary.
func (img *image) resolve(p string) (node, string, bool) {
	for range 8 {
		n, ok := img.final[p]
		if !ok {
			return node{}, p, false
		}
		if n.link == "" {
			return n, p, true
		}
		p = abs(n.link, path.Dir(p))
	}
	return node{}, p, false
}

// context is where a build-stage directory came from in the build context.
func (img *image) context(dir string) (string, bool) {
	best := ""
	for d := range img.copied {
		if (dir == d || strings.HasPrefix(dir, d+"/")) && len(d) > len(best) {
			best = d
		}
	}
	if best == "" {
		return "", false
	}
	return path.Join(img.copied[best], strings.TrimPrefix(strings.TrimPrefix(dir, best), "/")), true
}

// TestOneDockerfileForEveryService: the five images come from one file,
// `make images` passes it the service, and no per-service copy is left.
func TestOneDockerfileForEveryService(t *testing.T) {
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != repo && (name == ".git" || name == ".data" || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		lower := strings.ToLower(name)
		if lower == "dockerfile" || lower == "containerfile" || strings.HasPrefix(lower, "dockerfile.") || strings.HasSuffix(lower, ".dockerfile") {
			if rel, _ := filepath.Rel(repo, p); filepath.ToSlash(rel) != dockerfile {
				t.Errorf("%s: every image is built from %s (--build-arg SERVICE=<svc>); remove this one", rel, dockerfile)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(repo, "mk/images.mk"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "-f "+dockerfile+" --build-arg SERVICE=$$s") {
		t.Errorf("mk/images.mk: want docker build -f %s --build-arg SERVICE=$$s for each service", dockerfile)
	}
}

// TestServiceArgumentIsRequired: SERVICE has no default, so a build that
// forgets it never makes an image of some other service, and the build
// stage stops at once, saying what to pass, before it uses SERVICE.
func TestServiceArgumentIsRequired(t *testing.T) {
	ins := readDockerfile(t)
	arg := -1
	for i, in := range ins {
		if in.cmd == "ARG" && strings.HasPrefix(in.args, "SERVICE") {
			if strings.Contains(in.args, "=") {
				t.Errorf("%s:%d: ARG %s has a default; a build without --build-arg SERVICE would make that service's image", dockerfile, in.line, in.args)
			}
			if arg < 0 {
				arg = i
			}
		}
	}
	if arg < 0 {
		t.Fatalf("%s: no ARG SERVICE", dockerfile)
	}
	var guard *instruction
	for i := arg + 1; i < len(ins); i++ {
		if serviceRef.MatchString(ins[i].args) {
			guard = &ins[i]
			break
		}
	}
	if guard == nil || guard.cmd != "RUN" {
		t.Fatalf("%s: the first use of SERVICE after its ARG should be a RUN that fails when it is empty (test -n \"$SERVICE\"), got %+v", dockerfile, guard)
	}
	script := guard.args
	for strings.HasPrefix(script, "--") { // RUN's own flags
		_, script, _ = strings.Cut(script, " ")
		script = strings.TrimSpace(script)
	}
	for _, svc := range []string{"", services(t)[0]} {
		sh := exec.Command("sh", "-c", script)
		sh.Env = append(os.Environ(), "SERVICE="+svc)
		out, err := sh.CombinedOutput()
		switch {
		case svc == "" && (err == nil || !strings.Contains(string(out), "SERVICE")):
			t.Errorf("%s:%d: RUN %s with SERVICE empty: %v, %q; want a failure that names SERVICE", dockerfile, guard.line, script, err, out)
		case svc != "" && err != nil:
			t.Errorf("%s:%d: RUN %s with SERVICE=%s: %v\n%s", dockerfile, guard.line, script, svc, err, out)
		}
	}
}

// eachImage runs f on the model of every service's image, a subtest
// each.
func eachImage(t *testing.T, f func(t *testing.T, img *image)) {
	t.Helper()
	for _, svc := range services(t) {
		t.Run(svc, func(t *testing.T) { f(t, model(t, svc)) })
	}
}

// TestEveryImageRunsItsServiceBinary follows, for each service, what the
// Dockerfile builds and copies: the entrypoint reaches the binary built
// from the service's ./cmd/<svc> (a package that exists, with a main),
// which is also /usr/local/bin/<svc> for `kubectl exec deploy/<svc> --
// <svc> ...`; the image is static, trimmed, distroless and not root.
func TestEveryImageRunsItsServiceBinary(t *testing.T) {
	eachImage(t, func(t *testing.T, img *image) {
		for _, src := range img.sources {
			if src != "libs" && src != "services/"+img.svc {
				t.Errorf("copies %s; an image may use only libs and services/%s", src, img.svc)
			}
		}
		if len(img.entrypoint) == 1 && strings.Contains(img.entrypoint[0], "$") {
			t.Fatalf("ENTRYPOINT %q: an exec-form ENTRYPOINT is not expanded; name a fixed path", img.entrypoint)
		}
		if len(img.entrypoint) != 1 {
			t.Fatalf("ENTRYPOINT %q: want the one path of the binary (manifests pass only args)", img.entrypoint)
		}
		entry, at, ok := img.resolve(img.entrypoint[0])
		if !ok {
			t.Fatalf("ENTRYPOINT %s: %s is not in the image (files: %v)", img.entrypoint[0], at, keys(img.final))
		}
		if want := path.Join("/src/services", img.svc, "cmd", img.svc); entry.pkg != want {
			t.Errorf("ENTRYPOINT %s runs the binary built from %s; want %s", img.entrypoint[0], entry.pkg, want)
		}
		named, at, ok := img.resolve("/usr/local/bin/" + img.svc)
		if !ok || named != entry || at != "/usr/local/bin/"+img.svc {
			t.Errorf("/usr/local/bin/%s is not the binary itself (%s, %v); `kubectl exec deploy/%s -- %s ...` runs it by that name", img.svc, at, ok, img.svc, img.svc)
		}
		ctx, ok := img.context(entry.pkg)
		if !ok {
			t.Fatalf("%s is not under a directory the build stage copies from the context", entry.pkg)
		}
		if !isMain(t, filepath.Join(repo, ctx)) {
			t.Errorf("go build %s: %s has no package main", entry.pkg, ctx)
		}
		if img.base != "gcr.io/distroless/static-debian12:nonroot" {
			t.Errorf("final stage FROM %s; want gcr.io/distroless/static-debian12:nonroot", img.base)
		}
		if img.user != "65532:65532" {
			t.Errorf("USER %q; want 65532:65532 (nonroot)", img.user)
		}
		if !slices.Contains(img.buildFlags, "-trimpath") {
			t.Errorf("go build %v: want -trimpath", img.buildFlags)
		}
	})
	env := ""
	for _, in := range readDockerfile(t) {
		if in.cmd == "ENV" {
			env += " " + in.args + " "
		}
	}
	for _, want := range []string{"GOWORK=off", "CGO_ENABLED=0"} {
		if !strings.Contains(env, " "+want+" ") {
			t.Errorf("%s: want ENV %s in the build stage", dockerfile, want)
		}
	}
}

func keys(m map[string]node) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// isMain reports whether dir holds a Go package main.
func isMain(t *testing.T, dir string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^package main\s*$`).Match(b) {
			return true
		}
	}
	return false
}

// TestManifestsRunTheBinaryByItsName: every container of an acube image in
// both overlays runs one of the images `make images` builds, and one that
// sets a command names the binary (<svc> or /usr/local/bin/<svc>), never
// the image's fixed entrypoint name: make prodlike runs bin/<that name>.
// Manifests that set only args (migrate) pass them to the entrypoint.
func TestManifestsRunTheBinaryByItsName(t *testing.T) {
	svcs := services(t)
	for _, overlay := range []string{"dev", "prod"} {
		objs, err := manifests.Build(filepath.Join(repo, "deploy/k8s/overlays", overlay))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range manifests.Of[*appsv1.Deployment](objs) {
			spec := d.Spec.Template.Spec
			for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
				ref, _, _ := strings.Cut(c.Image, "@")
				if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
					ref = ref[:i]
				}
				if !strings.HasPrefix(ref, "ghcr.io/acube/") {
					continue
				}
				n++
				svc := path.Base(ref)
				if !slices.Contains(svcs, svc) {
					t.Errorf("%s: Deployment %s container %s runs %s, an image make images does not build", overlay, d.Name, c.Name, c.Image)
					continue
				}
				if len(c.Command) > 0 && c.Command[0] != svc && c.Command[0] != "/usr/local/bin/"+svc {
					t.Errorf("%s: Deployment %s container %s: command %q; name the binary, %s or /usr/local/bin/%s", overlay, d.Name, c.Name, c.Command, svc, svc)
				}
			}
		}
		if n < len(svcs) {
			t.Errorf("%s: only %d containers run an acube image", overlay, n)
		}
	}
}

// TestIntegrationServicesBuildFromTheirModuleAndLibsAlone copies what the
// Dockerfile copies for each service (libs and the service's directory) to
// an empty place and builds there the package it builds, with GOWORK=off, as
// the image build does.
func TestIntegrationServicesBuildFromTheirModuleAndLibsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every service; skipped under -short")
	}
	eachImage(t, func(t *testing.T, img *image) {
		var pkg string
		for _, n := range img.built {
			if n.pkg != "" {
				pkg = n.pkg
			}
		}
		wd, ok := img.context(img.workdir)
		if !ok || pkg == "" {
			t.Fatalf("no go build in a copied WORKDIR (workdir %s, built %v)", img.workdir, img.built)
		}
		rel, err := filepath.Rel(img.workdir, pkg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, src := range img.sources {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, src)), 0o755); err != nil {
				t.Fatal(err)
			}
			cp := exec.Command("cp", "-r", filepath.Join(repo, src), filepath.Join(dir, src))
			if out, err := cp.CombinedOutput(); err != nil {
				t.Fatalf("copy %s: %v\n%s", src, err, out)
			}
		}
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", img.svc), "./"+rel)
		build.Dir = filepath.Join(dir, wd)
		build.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false -mod=readonly")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s without go.work: %v\n%s", img.svc, err, out)
		}
	})
}

// TestIntegrationModulesResolveFromWhatIsCopiedBeforeTheirFetch lays out
// what the context has put in place by each go mod download of the build
// stage, and resolves the module graph there with GOWORK=off, as the
// image build does: a go.mod that replaces a module with a directory the
// build has not copied yet (the gateway's third_party/fasthttp) fails here,
// not in the first image build.
func TestIntegrationModulesResolveFromWhatIsCopiedBeforeTheirFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves every service's modules; skipped under -short")
	}
	eachImage(t, func(t *testing.T, img *image) {
		if len(img.fetches) == 0 {
			t.Fatalf("%s: no go mod download in the build stage", dockerfile)
		}
		for _, f := range img.fetches {
			root := t.TempDir()
			for _, c := range f.copies {
				layOut(t, root, c)
			}
			list := exec.Command("go", "list", "-m", "all")
			list.Dir = filepath.Join(root, f.dir)
			list.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
			if out, err := list.CombinedOutput(); err != nil {
				t.Errorf("go mod download in %s with what is copied before it: %v\n%s", f.dir, err, out)
			}
		}
	})
}

// layOut copies c from the repository into root, as COPY would into /.
func layOut(t *testing.T, root string, c contextCopy) {
	t.Helper()
	src := filepath.Join(repo, c.src)
	dst := filepath.Join(root, c.dst)
	info, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if info.IsDir() {
		src += "/." // its contents
	} else if strings.HasSuffix(c.dst, "/") {
		dst = filepath.Join(dst, filepath.Base(c.src))
	}
	dir := filepath.Dir(dst) // a file's
	if info.IsDir() {
		dir = dst
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s to %s: %v\n%s", c.src, c.dst, err, out)
	}
}

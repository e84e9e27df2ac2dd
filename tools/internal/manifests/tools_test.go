package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// tool finds an external checker: $ENV, else ./bin/<name> as `make
// test-deploy` installs it. Without it the test skips, unless
// ACUBE_DEPLOY_TOOLS=require (set by make test-deploy) makes that a failure.
func tool(t *testing.T, envVar, name string) string {
	t.Helper()
	path := os.Getenv(envVar)
	if path == "" {
		path = filepath.Join(root(t), "bin", name)
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("ACUBE_DEPLOY_TOOLS") == "require" {
			t.Fatalf("%s not found at %s: %v", name, path, err)
		}
		t.Skipf("%s not installed (make test-deploy installs it into ./bin)", name)
	}
	return path
}

// TestAlertRulesUnitTests runs `promtool test rules` over
// deploy/k8s/base/monitoring/tests against the rules the prod overlay
// renders, and checks that every alert but the outbox's (tested with
// libs/outbox) is expected to fire in at least one case.
func TestAlertRulesUnitTests(t *testing.T) {
	promtool := tool(t, "PROMTOOL", "promtool")
	rules := Of[*monitoringv1.PrometheusRule](overlays(t)["prod"])
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules, want 1", len(rules))
	}
	dir := t.TempDir()
	raw, err := yaml.Marshal(map[string]any{"groups": rules[0].Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	tests, err := filepath.Glob(filepath.Join(root(t), "deploy/k8s/base/monitoring/tests/*.yaml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no promtool tests: %v", err)
	}
	covered := map[string]bool{}
	var args []string
	for _, src := range tests {
		body, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string           `json:"alertname"`
					ExpAlerts []map[string]any `json:"exp_alerts"`
				} `json:"alert_rule_test"`
			} `json:"tests"`
		}
		if err := yaml.Unmarshal(body, &file); err != nil {
			t.Fatalf("%s: %v", filepath.Base(src), err)
		}
		for _, tc := range file.Tests {
			for _, a := range tc.AlertRuleTest {
				covered[a.Alertname] = covered[a.Alertname] || len(a.ExpAlerts) > 0
			}
		}
		dst := filepath.Join(dir, filepath.Base(src))
		if err := os.WriteFile(dst, body, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, dst)
	}
	cmd := exec.Command(promtool, append([]string{"test", "rules"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("promtool: %s", bytes.TrimSpace(lastLine(out)))
	for _, g := range rules[0].Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || strings.HasPrefix(r.Alert, "AcubeOutbox") {
				continue
			}
			if !covered[r.Alert] {
				t.Errorf("alert %s is never expected to fire in deploy/k8s/base/monitoring/tests", r.Alert)
			}
		}
	}
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// scoreIgnore is one accepted kube-score finding.
type scoreIgnore struct {
	Check  string   `json:"check"`
	Kind   string   `json:"kind"`
	Names  []string `json:"names"`
	Reason string   `json:"reason"`
}

// TestKubeScoreOnTheProdOverlay runs kube-score over the rendered prod
// overlay: every check below OK must be justified in
// deploy/k8s/kube-score-ignore.yaml, and every justification must still
// match a finding.
func TestKubeScoreOnTheProdOverlay(t *testing.T) {
	kubeScore := tool(t, "KUBE_SCORE", "kube-score")
	rendered, err := Render(filepath.Join(root(t), "deploy/k8s/overlays/prod"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "prod.yaml")
	if err := os.WriteFile(file, rendered, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubeScore, "score", "--output-format", "json", "--kubernetes-version", "v1.33", file).Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run kube-score: %v", err)
	}
	var scored []struct {
		ObjectMeta struct {
			Name string `json:"name"`
		} `json:"object_meta"`
		TypeMeta struct {
			Kind string `json:"kind"`
		} `json:"type_meta"`
		Checks []struct {
			Check struct {
				ID string `json:"id"`
			} `json:"check"`
			Grade    int  `json:"grade"`
			Skipped  bool `json:"skipped"`
			Comments []struct {
				Summary string `json:"summary"`
			} `json:"comments"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(out, &scored); err != nil {
		t.Fatalf("decode kube-score output: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(root(t), "deploy/k8s/kube-score-ignore.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ignores []scoreIgnore
	if err := yaml.UnmarshalStrict(raw, &ignores); err != nil {
		t.Fatalf("kube-score-ignore.yaml: %v", err)
	}
	used := make([]bool, len(ignores))
	var checks, findings int
	const gradeAllOK = 10
	for _, obj := range scored {
		for _, c := range obj.Checks {
			checks++
			if c.Skipped || c.Grade >= gradeAllOK {
				continue
			}
			findings++
			i := slices.IndexFunc(ignores, func(ig scoreIgnore) bool {
				return ig.Check == c.Check.ID && ig.Kind == obj.TypeMeta.Kind && slices.Contains(ig.Names, obj.ObjectMeta.Name)
			})
			if i < 0 {
				var why []string
				for _, cm := range c.Comments {
					why = append(why, cm.Summary)
				}
				t.Errorf("kube-score %s on %s %s (grade %d): %s", c.Check.ID, obj.TypeMeta.Kind, obj.ObjectMeta.Name, c.Grade, strings.Join(why, "; "))
				continue
			}
			used[i] = true
		}
	}
	for i, ig := range ignores {
		if strings.TrimSpace(ig.Reason) == "" {
			t.Errorf("kube-score-ignore.yaml: %s has no reason", ig.Check)
		}
		if !used[i] {
			t.Errorf("kube-score-ignore.yaml: %s on %s %v no longer matches a finding; remove it", ig.Check, ig.Kind, ig.Names)
		}
	}
	t.Logf("kube-score: %d objects, %d checks, %d below OK", len(scored), checks, findings)
}

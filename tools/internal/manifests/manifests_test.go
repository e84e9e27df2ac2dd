package manifests

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

var services = []string{"gateway", "booking", "admin", "mailer", "exporter"}

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func overlays(t *testing.T) map[string][]Object {
	t.Helper()
	out := map[string][]Object{}
	for _, o := range []string{"dev", "prod"} {
		objs, err := Build(filepath.Join(root(t), "deploy/k8s/overlays", o))
		if err != nil {
			t.Fatalf("overlay %s: %v", o, err)
		}
		out[o] = objs
	}
	return out
}

func TestOverlaysBuildAndDecodeStrictly(t *testing.T) {
	for name, objs := range overlays(t) {
		if len(objs) < 30 {
			t.Errorf("overlay %s renders only %d objects", name, len(objs))
		}
	}
}

func TestDeploymentsFollowTheInvariants(t *testing.T) {
	for overlay, objs := range overlays(t) {
		deps := map[string]*appsv1.Deployment{}
		for _, d := range Of[*appsv1.Deployment](objs) {
			deps[d.Name] = d
		}
		for _, svc := range services {
			t.Run(overlay+"/"+svc, func(t *testing.T) {
				d := deps[svc]
				if d == nil {
					t.Fatal("no Deployment")
				}
				pod := d.Spec.Template.Spec
				if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
					t.Error("pod does not require a non-root user")
				}
				if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
					t.Error("service account token is mounted; no service talks to the API server")
				}
				if len(pod.Containers) != 1 {
					t.Fatalf("%d containers, want 1", len(pod.Containers))
				}
				c := pod.Containers[0]
				sc := c.SecurityContext
				switch {
				case sc == nil:
					t.Fatal("no container security context")
				case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
					t.Error("root filesystem is writable")
				case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
					t.Error("privilege escalation allowed")
				case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
					t.Error("capabilities not all dropped")
				}
				probe := func(name string, p *corev1.Probe, path string) {
					if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
						t.Errorf("%s probe is not GET %s", name, path)
					}
				}
				probe("liveness", c.LivenessProbe, "/healthz")
				probe("readiness", c.ReadinessProbe, "/readyz")
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					if _, ok := c.Resources.Requests[res]; !ok {
						t.Errorf("no %s request", res)
					}
					if _, ok := c.Resources.Limits[res]; !ok {
						t.Errorf("no %s limit", res)
					}
				}
				for _, e := range c.Env {
					if looksSecret(e.Name) && e.Value != "" {
						t.Errorf("%s is set inline; secrets are referenced, never written", e.Name)
					}
				}
				for _, ef := range c.EnvFrom {
					if ef.ConfigMapRef == nil {
						t.Errorf("envFrom other than a ConfigMap")
					}
				}
			})
		}
		for _, s := range Of[*corev1.Secret](objs) {
			t.Errorf("overlay %s renders Secret %s; secrets are created out of band", overlay, s.Name)
		}
	}
}

func looksSecret(name string) bool {
	for _, s := range []string{"PASSWORD", "SECRET", "DATABASE_URL", "REDIS_URL", "TOKEN"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

func TestEveryServiceHasADisruptionBudgetAndTheRequestPathScales(t *testing.T) {
	for overlay, objs := range overlays(t) {
		pdbs := map[string]bool{}
		for _, p := range Of[*policyv1.PodDisruptionBudget](objs) {
			pdbs[p.Name] = true
		}
		hpas := map[string]bool{}
		for _, h := range Of[*autoscalingv2.HorizontalPodAutoscaler](objs) {
			hpas[h.Spec.ScaleTargetRef.Name] = true
		}
		for _, svc := range services {
			if !pdbs[svc] {
				t.Errorf("%s: no PodDisruptionBudget for %s", overlay, svc)
			}
		}
		for _, svc := range []string{"gateway", "booking"} {
			if !hpas[svc] {
				t.Errorf("%s: no HorizontalPodAutoscaler for %s", overlay, svc)
			}
		}
		var pvc bool
		for _, c := range Of[*corev1.PersistentVolumeClaim](objs) {
			pvc = pvc || c.Name == "exports"
		}
		if !pvc {
			t.Errorf("%s: no PersistentVolumeClaim for the exports", overlay)
		}
	}
}

func TestOnlyTheGatewayTakesOutsideTraffic(t *testing.T) {
	objs := overlays(t)["prod"]
	for _, ing := range Of[*networkingv1.Ingress](objs) {
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service == nil || p.Backend.Service.Name != "gateway" {
					t.Errorf("Ingress %s routes %s to something other than the gateway", ing.Name, p.Path)
				}
			}
		}
	}
	for _, svc := range Of[*corev1.Service](objs) {
		if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s is %s; only the Ingress is public", svc.Name, svc.Spec.Type)
		}
	}
	policies := Of[*networkingv1.NetworkPolicy](objs)
	var denyAll bool
	for _, p := range policies {
		if p.Name == "default-deny" && len(p.Spec.PodSelector.MatchLabels) == 0 &&
			len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 && len(p.Spec.PolicyTypes) == 2 {
			denyAll = true
		}
	}
	if !denyAll {
		t.Fatal("no default-deny NetworkPolicy")
	}
	// Who may reach each service, besides Prometheus.
	wantFrom := map[string][]string{
		"gateway":  {"namespace:ingress-nginx"},
		"booking":  {"gateway"},
		"admin":    {"gateway", "booking", "exporter"},
		"exporter": {"gateway"},
		"mailer":   nil,
	}
	for svc, want := range wantFrom {
		var got []string
		for _, p := range policies {
			if p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != svc {
				continue
			}
			for _, rule := range p.Spec.Ingress {
				for _, peer := range rule.From {
					switch {
					case peer.PodSelector != nil && peer.NamespaceSelector == nil:
						got = append(got, peer.PodSelector.MatchLabels["app.kubernetes.io/name"])
					case peer.NamespaceSelector != nil && peer.PodSelector == nil:
						got = append(got, "namespace:"+peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
					default:
						got = append(got, "other")
					}
				}
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s takes traffic from %v, want %v", svc, got, want)
		}
	}
}

func TestTheGatewayConfigMapIsTheGatewaysTable(t *testing.T) {
	a, err := os.ReadFile(filepath.Join(root(t), "services/gateway/ratelimits.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root(t), "deploy/k8s/base/gateway/ratelimits.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("deploy/k8s/base/gateway/ratelimits.yaml differs from services/gateway/ratelimits.yaml; copy it over")
	}
}

func TestAlertRulesParse(t *testing.T) {
	rules := Of[*monitoringv1.PrometheusRule](overlays(t)["prod"])
	if len(rules) == 0 {
		t.Fatal("no PrometheusRule")
	}
	var alerts []string
	for _, r := range rules {
		raw, err := yaml.Marshal(map[string]any{"groups": r.Spec.Groups})
		if err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		groups, errs := rulefmt.Parse(raw, false, model.UTF8Validation, parser.NewParser(parser.Options{}), log)
		for _, err := range errs {
			t.Errorf("PrometheusRule %s: %v", r.Name, err)
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			for _, rule := range g.Rules {
				alerts = append(alerts, rule.Alert)
			}
		}
	}
	for _, want := range []string{"AcubeOutboxBacklogOld", "AcubeDeadLettersGrowing", "AcubeRateLimiterDegraded",
		"AcubeConsumerLag", "AcubeEmailFailures", "AcubeHigh5xxRatio", "AcubeExportFailures"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}
}

func TestOperationsDocExplainsEveryAlert(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "docs/operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Of[*monitoringv1.PrometheusRule](overlays(t)["prod"]) {
		for _, g := range r.Spec.Groups {
			for _, rule := range g.Rules {
				if rule.Alert != "" && !bytes.Contains(doc, []byte("### "+rule.Alert)) {
					t.Errorf("docs/operations.md has no section ### %s", rule.Alert)
				}
			}
		}
	}
}

func TestDashboardQueriesParse(t *testing.T) {
	exprs, err := DashboardExprs(filepath.Join(root(t), "deploy/k8s/base/monitoring/dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := MetricNames(exprs)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 15 {
		t.Errorf("dashboard uses only %d metrics: %v", len(names), names)
	}
}

package manifests

import (
	"bytes"
	"io"
	"log/slog"
	"net/url"
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
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
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
					if looksSecret(e.Name) && e.Value != "" && !secretByReference(e.Value) {
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

// secretByReference reports whether a URL value takes its password from
// another variable, $(DB_PASSWORD), which a secretKeyRef sets: the host
// and role may be written, the password never.
func secretByReference(value string) bool {
	u, err := url.Parse(value)
	if err != nil || u.User == nil {
		return false
	}
	pw, ok := u.User.Password()
	return ok && strings.HasPrefix(pw, "$(") && strings.HasSuffix(pw, ")")
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
		// Files every replica needs live in NATS's Object Store (DESIGN §5:
		// no ReadWriteMany volumes, which most storage classes lack).
		for _, c := range Of[*corev1.PersistentVolumeClaim](objs) {
			if slices.Contains(c.Spec.AccessModes, corev1.ReadWriteMany) {
				t.Errorf("%s: PersistentVolumeClaim %s asks for ReadWriteMany", overlay, c.Name)
			}
		}
	}
}

func TestOnlyTheGatewayTakesOutsideTraffic(t *testing.T) {
	objs := overlays(t)["prod"]
	if ings := Of[*networkingv1.Ingress](objs); len(ings) > 0 {
		t.Errorf("%d Ingress objects; the entry is the Gateway API (ingress-nginx is retired)", len(ings))
	}
	routes := Of[*gatewayv1.HTTPRoute](objs)
	if len(routes) == 0 {
		t.Fatal("no HTTPRoute")
	}
	var toGateway bool
	for _, rt := range routes {
		for _, rule := range rt.Spec.Rules {
			for _, b := range rule.BackendRefs {
				if b.Name != "gateway" {
					t.Errorf("HTTPRoute %s sends traffic to %s; only the gateway is public", rt.Name, b.Name)
				}
				toGateway = true
				for _, m := range rule.Matches {
					if m.Path == nil || m.Path.Value == nil || *m.Path.Value != "/api" {
						t.Errorf("HTTPRoute %s routes a path other than /api to the gateway: its probes and metrics would be public", rt.Name)
					}
				}
			}
		}
	}
	if !toGateway {
		t.Error("no HTTPRoute sends /api to the gateway")
	}
	for _, g := range Of[*gatewayv1.Gateway](objs) {
		if g.Spec.GatewayClassName == "" || strings.Contains(string(g.Spec.GatewayClassName), "REPLACE") {
			t.Errorf("Gateway %s has no class; the overlay names the cluster's implementation", g.Name)
		}
	}
	for _, svc := range Of[*corev1.Service](objs) {
		if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s is %s; only the Gateway is public", svc.Name, svc.Spec.Type)
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
		"gateway":  {"namespace-label:acube.io/gateway-data-plane"},
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
					case peer.NamespaceSelector != nil && peer.PodSelector == nil && peer.NamespaceSelector.MatchLabels["acube.io/gateway-data-plane"] == "true":
						got = append(got, "namespace-label:acube.io/gateway-data-plane")
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

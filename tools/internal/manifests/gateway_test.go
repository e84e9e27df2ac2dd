package manifests

import (
	"slices"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestGatewayProbesAndMetricsStayInternal: the gateway's probes and
// metrics are on its internal port (GATEWAY_INTERNAL_ADDR), which its
// Service does not expose and only Prometheus may reach; the public port
// is the Service's one port and the data plane's only way in.
func TestGatewayProbesAndMetricsStayInternal(t *testing.T) {
	for overlay, objs := range overlays(t) {
		d := deployments(objs)["gateway"]
		if d == nil {
			t.Fatalf("%s: no gateway Deployment", overlay)
		}
		c := d.Spec.Template.Spec.Containers[0]
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if ports["http"] == 0 || ports["internal"] == 0 || ports["http"] == ports["internal"] {
			t.Fatalf("%s: gateway ports %v, want distinct http and internal", overlay, ports)
		}
		if e, ok := env(c, "GATEWAY_INTERNAL_ADDR"); !ok || e.Value != ":8002" || ports["internal"] != 8002 {
			t.Errorf("%s: GATEWAY_INTERNAL_ADDR %q does not match the internal port %d", overlay, e.Value, ports["internal"])
		}
		for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Port != intstr.FromString("internal") {
				t.Errorf("%s: gateway %s probe is not on the internal port", overlay, name)
			}
		}
		for _, svc := range Of[*corev1.Service](objs) {
			if svc.Spec.Selector["app.kubernetes.io/name"] != "gateway" {
				continue
			}
			for _, p := range svc.Spec.Ports {
				if p.TargetPort != intstr.FromString("http") {
					t.Errorf("%s: Service %s exposes the gateway's %s port", overlay, svc.Name, p.TargetPort.String())
				}
			}
		}
		var scraped bool
		for _, pm := range Of[*monitoringv1.PodMonitor](objs) {
			if pm.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "gateway" {
				continue
			}
			for _, ep := range pm.Spec.PodMetricsEndpoints {
				scraped = scraped || (ep.Port != nil && *ep.Port == "internal" && ep.Path == "/metrics")
			}
		}
		if !scraped {
			t.Errorf("%s: no PodMonitor scrapes the gateway's internal port", overlay)
		}
		for _, sm := range Of[*monitoringv1.ServiceMonitor](objs) {
			excluded := slices.ContainsFunc(sm.Spec.Selector.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool {
				return r.Key == "app.kubernetes.io/name" && r.Operator == "NotIn" && slices.Contains(r.Values, "gateway")
			})
			if !excluded {
				t.Errorf("%s: ServiceMonitor %s would scrape the gateway's public port, which answers /metrics with 404", overlay, sm.Name)
			}
		}
		prometheusReachesInternal, dataPlaneReachesInternal := false, false
		for _, p := range Of[*networkingv1.NetworkPolicy](objs) {
			appliesToGateway := len(p.Spec.PodSelector.MatchLabels) == 0 || p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] == "gateway"
			if !appliesToGateway {
				continue
			}
			for _, rule := range p.Spec.Ingress {
				fromPrometheus := slices.ContainsFunc(rule.From, func(peer networkingv1.NetworkPolicyPeer) bool {
					return peer.PodSelector != nil && peer.PodSelector.MatchLabels["app.kubernetes.io/name"] == "prometheus"
				})
				for _, port := range rule.Ports {
					internal := port.Port != nil && (*port.Port == intstr.FromString("internal") || *port.Port == intstr.FromInt32(ports["internal"]))
					switch {
					case internal && fromPrometheus:
						prometheusReachesInternal = true
					case internal:
						dataPlaneReachesInternal = true
					}
				}
			}
		}
		if !prometheusReachesInternal {
			t.Errorf("%s: no NetworkPolicy lets Prometheus reach the gateway's internal port", overlay)
		}
		if dataPlaneReachesInternal {
			t.Errorf("%s: a NetworkPolicy lets something other than Prometheus reach the gateway's internal port", overlay)
		}
	}
}

// Package manifests builds the Kustomize overlays of deploy/k8s with the
// Kustomize Go API, decodes every object strictly into the official
// Kubernetes (and Prometheus Operator) types, and reads the PromQL the
// alerts and the dashboard use, so tests can hold the deployment to its
// invariants and to the metrics the services really export.
package manifests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object, decoded into its official type.
type Object struct {
	Kind string
	Name string
	// Typed is a pointer to the official type, e.g. *appsv1.Deployment.
	Typed any
}

// newTyped returns an empty object of the official type for kind.
func newTyped(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, true
	case "gateway.networking.k8s.io/v1/Gateway":
		return &gatewayv1.Gateway{}, true
	case "gateway.networking.k8s.io/v1/HTTPRoute":
		return &gatewayv1.HTTPRoute{}, true
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, true
	case "monitoring.coreos.com/v1/PodMonitor":
		return &monitoringv1.PodMonitor{}, true
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}, true
	}
	return nil, false
}

// Render returns the overlay at dir as one multi-document YAML stream, as
// `kustomize build` prints it, for tools that read files (kube-score).
func Render(dir string) ([]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	return out, nil
}

// Build renders the overlay at dir (e.g. deploy/k8s/overlays/prod) and
// decodes each object strictly: an unknown field or kind is an error.
func Build(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []Object
	for _, r := range m.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", r.GetKind(), r.GetName(), err)
		}
		typed, ok := newTyped(r.GetApiVersion(), r.GetKind())
		if !ok {
			return nil, fmt.Errorf("%s %s/%s: no official type known to the checks", r.GetApiVersion(), r.GetKind(), r.GetName())
		}
		if err := yaml.UnmarshalStrict(raw, typed); err != nil {
			return nil, fmt.Errorf("decode %s/%s strictly: %w", r.GetKind(), r.GetName(), err)
		}
		out = append(out, Object{Kind: r.GetKind(), Name: r.GetName(), Typed: typed})
	}
	return out, nil
}

// Of returns the objects of one type.
func Of[T any](objs []Object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.Typed.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// DashboardExprs returns every PromQL target of a Grafana dashboard JSON.
func DashboardExprs(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		return nil, fmt.Errorf("decode dashboard %s: %w", filepath.Base(path), err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, t := range p.Targets {
			if t.Expr != "" {
				exprs = append(exprs, t.Expr)
			}
		}
	}
	return exprs, nil
}

// AlertExprs returns the expression of every alerting and recording rule.
func AlertExprs(rules []*monitoringv1.PrometheusRule) []string {
	var exprs []string
	for _, r := range rules {
		for _, g := range r.Spec.Groups {
			for _, rule := range g.Rules {
				exprs = append(exprs, rule.Expr.String())
			}
		}
	}
	return exprs
}

// MetricNames parses each PromQL expression and returns the metric names
// its selectors use, histograms under their base name (no _bucket).
// Grafana's $__rate_interval and $variables are replaced first.
func MetricNames(exprs []string) ([]string, error) {
	p := parser.NewParser(parser.Options{})
	set := map[string]bool{}
	for _, e := range exprs {
		e = strings.NewReplacer("$__rate_interval", "5m", "$namespace", "acube").Replace(e)
		expr, err := p.ParseExpr(e)
		if err != nil {
			return nil, fmt.Errorf("parse %q: %w", e, err)
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
				set[strings.TrimSuffix(vs.Name, "_bucket")] = true
			}
			return nil
		})
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

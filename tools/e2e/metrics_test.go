package e2e

import (
	"bufio"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"github.com/acube/platform/tools/internal/manifests"
	"github.com/acube/platform/tools/internal/stack"
)

// TestIntegrationDashboardAndAlertsUseExportedMetrics scrapes every running
// service and checks that each metric the alerts and the dashboard query
// is one a service really exports, so no panel or alert watches nothing.
func TestIntegrationDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	sys := start(t, stack.Services()...)
	sys.book(t, "metrics@example.com")

	exported := map[string]bool{"up": true} // Prometheus's own
	for name, p := range sys.procs {
		resp, err := http.Get("http://" + p.ProbeAddr + "/metrics")
		if err != nil {
			t.Fatalf("scrape %s: %v", name, err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			// "# TYPE name kind" names every family, even one whose
			// series are all histogram buckets.
			if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
				exported[f[2]] = true
			}
		}
		resp.Body.Close()
	}

	root := stack.TestRoot(t)
	objs, err := manifests.Build(filepath.Join(root, "deploy/k8s/overlays/prod"))
	if err != nil {
		t.Fatal(err)
	}
	exprs := manifests.AlertExprs(manifests.Of[*monitoringv1.PrometheusRule](objs))
	dash, err := manifests.DashboardExprs(filepath.Join(root, "deploy/k8s/base/monitoring/dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	used, err := manifests.MetricNames(append(exprs, dash...))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range used {
		if !exported[name] {
			t.Errorf("alerts or dashboard use %s, which no running service exports", name)
		}
	}
}

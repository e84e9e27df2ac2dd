package manifests

import (
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// directReserve is what PostgreSQL keeps for connections that bypass the
// pooler: the schema owners' migrations (a pool of at most max(4, cores)
// per starting admin pod), CloudNativePG's instance manager and a human with
// psql. The pooler's server connections must leave it free.
const directReserve = 30

// natsDrainAllowance is the shutdown budget's room after SHUTDOWN_GRACE:
// the lifecycle bounds the NATS drain inside the grace (libs/lifecycle),
// and this is the margin for the drain's last flush, log lines and the
// process's exit before the kubelet's SIGKILL.
const natsDrainAllowance = 10 * time.Second

func deployments(objs []Object) map[string]*appsv1.Deployment {
	out := map[string]*appsv1.Deployment{}
	for _, d := range Of[*appsv1.Deployment](objs) {
		out[d.Name] = d
	}
	return out
}

func env(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

func TestRedisHasASentinelQuorumThatSurvivesANode(t *testing.T) {
	v, err := ReadRedisValues(filepath.Join(root(t), "deploy/k8s/infra/redis/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// One Sentinel per pod, pods on separate nodes: losing the primary's
	// node leaves replicas-1 Sentinels, which must still reach the quorum
	// and the majority Sentinel needs to authorize a failover.
	sentinels := v.Replicas
	majority := sentinels/2 + 1
	switch {
	case sentinels < 3:
		t.Errorf("%d Sentinels; a failover after losing a node needs at least 3", sentinels)
	case v.Sentinel.Quorum < majority:
		t.Errorf("quorum %d of %d Sentinels is below a majority: a partition could elect two primaries", v.Sentinel.Quorum, sentinels)
	case max(v.Sentinel.Quorum, majority) > sentinels-1:
		t.Errorf("quorum %d of %d Sentinels: after losing a node no failover can be agreed", v.Sentinel.Quorum, sentinels)
	}
	if !v.HardAntiAffinity {
		t.Error("Redis pods may share a node; one node's loss could take the quorum")
	}
	if strings.Contains(v.Image.Repository, "bitnami") || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(v.Image.Tag) {
		t.Errorf("image %s:%s: want a maintained image at an exact version", v.Image.Repository, v.Image.Tag)
	}
	if !v.Auth || !v.Sentinel.Auth {
		t.Error("Redis or Sentinel answers without a password")
	}
	maxmemory, err := resource.ParseQuantity(strings.ToUpper(strings.TrimSuffix(strings.ToLower(v.Redis.Config["maxmemory"].(string)), "b")) + "i")
	if err != nil {
		t.Fatalf("maxmemory %v: %v", v.Redis.Config["maxmemory"], err)
	}
	for name, r := range map[string]Resources{"redis": v.Redis.Resources, "sentinel": v.Sentinel.Resources} {
		if r.Requests["memory"] == "" || r.Limits["memory"] == "" || r.Requests["cpu"] == "" {
			t.Errorf("%s container has no memory request and limit or CPU request", name)
		}
	}
	limit := resource.MustParse(v.Redis.Resources.Limits["memory"])
	if limit.Cmp(maxmemory) <= 0 {
		t.Errorf("Redis memory limit %s does not exceed maxmemory %s: the kernel would kill it before it evicts", limit.String(), maxmemory.String())
	}

	// The gateway reaches both the Sentinels and the primary they name.
	var ports []int32
	for _, p := range Of[*networkingv1.NetworkPolicy](overlays(t)["prod"]) {
		if p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != "gateway" {
			continue
		}
		for _, rule := range p.Spec.Egress {
			for _, peer := range rule.To {
				if peer.PodSelector != nil && peer.PodSelector.MatchLabels["app.kubernetes.io/name"] == v.ExtraLabels["app.kubernetes.io/name"] {
					for _, port := range rule.Ports {
						ports = append(ports, port.Port.IntVal)
					}
				}
			}
		}
	}
	for _, want := range []int32{6379, 26379} {
		if !containsInt(ports, want) {
			t.Errorf("the gateway's NetworkPolicy does not open port %d to the Redis pods (got %v)", want, ports)
		}
	}
}

func containsInt(xs []int32, x int32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func buildPostgres(t *testing.T) *Postgres {
	t.Helper()
	pg, err := BuildPostgres(filepath.Join(root(t), "deploy/k8s/infra/postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Clusters) != 1 || len(pg.Poolers) != 1 {
		t.Fatalf("%d Clusters and %d Poolers, want one of each", len(pg.Clusters), len(pg.Poolers))
	}
	return pg
}

func TestPostgresReplicatesSynchronouslyFromAPinnedImage(t *testing.T) {
	pg := buildPostgres(t)
	c := pg.Clusters[0].Spec
	if c.Instances < 3 {
		t.Errorf("%d instances; synchronous replication that survives a lost standby needs 3", c.Instances)
	}
	s := c.PostgreSQL.Synchronous
	switch {
	case s == nil:
		t.Error("replication is asynchronous: a failover can drop committed rows whose events were published")
	case s.Number < 1 || s.Number > c.Instances-2:
		t.Errorf("synchronous number %d with %d instances: want at least 1 and a spare standby", s.Number, c.Instances)
	case s.DataDurability != "" && s.DataDurability != "required":
		t.Errorf("dataDurability %s: a commit could return before a standby holds it", s.DataDurability)
	}
	if !regexp.MustCompile(`:\d+\.\d+(-[a-z0-9]+)*(@sha256:[0-9a-f]{64})?$`).MatchString(c.ImageName) {
		t.Errorf("image %s floats; pin an exact version (or a digest)", c.ImageName)
	}
	if _, ok := c.Backup["barmanObjectStore"]; ok {
		t.Error("backup.barmanObjectStore is deprecated; back up with the Barman Cloud plugin")
	}
	var archiver bool
	for _, p := range c.Plugins {
		archiver = archiver || (p.Name == "barman-cloud.cloudnative-pg.io" && p.IsWALArchiver && p.Parameters["barmanObjectName"] != "")
	}
	if !archiver || pg.Kinds["barmancloud.cnpg.io/v1/ObjectStore"] != 1 || pg.Kinds["postgresql.cnpg.io/v1/ScheduledBackup"] != 1 {
		t.Errorf("no Barman Cloud plugin archiving to one ObjectStore with a ScheduledBackup (kinds: %v)", pg.Kinds)
	}
}

// demand is one service's share of the pooler's connections.
type demand struct {
	svc                    string
	pool, relay, pods, sum int
}

// TestPoolerFitsEveryReplica holds the pooler and PostgreSQL to the
// arithmetic in infra/postgres/pooler.yaml, from the prod overlay's pool
// sizes and replica counts.
func TestPoolerFitsEveryReplica(t *testing.T) {
	pg := buildPostgres(t)
	pooler, cluster := pg.Poolers[0], pg.Clusters[0]
	param := func(m map[string]string, key string, def int) int {
		t.Helper()
		s, ok := m[key]
		if !ok {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", key, s, err)
		}
		return n
	}
	pb := pooler.Spec.PgBouncer.Parameters
	instances := pooler.Spec.Instances
	maxDB := param(pb, "max_db_connections", 0)
	poolSize := param(pb, "default_pool_size", 20)
	maxClient := param(pb, "max_client_conn", 100)
	maxConns := param(cluster.Spec.PostgreSQL.Parameters, "max_connections", 100)
	reserved := param(cluster.Spec.PostgreSQL.Parameters, "superuser_reserved_connections", 3)
	if pooler.Spec.Cluster.Name != cluster.Metadata.Name || pooler.Spec.Type != "rw" {
		t.Fatalf("pooler %s is not the rw pooler of %s", pooler.Metadata.Name, cluster.Metadata.Name)
	}
	if instances < 2 || maxDB <= 0 {
		t.Fatalf("pooler has %d instances and max_db_connections %d: want at least 2 and a bound", instances, maxDB)
	}
	if !strings.Contains(pb["track_extra_parameters"], "search_path") {
		t.Error("PgBouncer does not carry search_path, which pgx sends at startup for each service's schema")
	}

	objs := overlays(t)["prod"]
	deps := deployments(objs)
	hpaMax := map[string]int{}
	for _, h := range Of[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		hpaMax[h.Spec.ScaleTargetRef.Name] = int(h.Spec.MaxReplicas)
	}
	poolerHost := pooler.Metadata.Name + ".acube-infra.svc"
	var total int
	var shares []demand
	for _, svc := range services {
		d := deps[svc]
		c := d.Spec.Template.Spec.Containers[0]
		dbURL, ok := env(c, "DATABASE_URL")
		if !ok {
			continue
		}
		if !strings.Contains(dbURL.Value, "@"+poolerHost+":") {
			t.Errorf("%s: DATABASE_URL does not go through the pooler %s", svc, poolerHost)
			continue
		}
		sizeVar := strings.ToUpper(svc) + "_DB_MAX_CONNS"
		size, ok := env(c, sizeVar)
		if !ok {
			t.Errorf("%s: %s is not set; the pooler is sized from it", svc, sizeVar)
			continue
		}
		share := demand{svc: svc, relay: relayConns(t, svc)}
		share.pool, _ = strconv.Atoi(size.Value)
		share.pods = replicasAtMost(d, hpaMax)
		share.sum = (share.pool + share.relay) * share.pods
		total += share.sum
		shares = append(shares, share)
		t.Logf("%-8s (pool %d + relay %d) × %d pods = %d", svc, share.pool, share.relay, share.pods, share.sum)
	}
	server := instances * maxDB
	budget := maxConns - reserved - directReserve
	t.Logf("demand %d client connections; pooler %s mode: %d instances × max_db_connections %d = %d server connections; PostgreSQL %d - %d reserved - %d direct = %d",
		total, pooler.Spec.PgBouncer.PoolMode, instances, maxDB, server, maxConns, reserved, directReserve, budget)
	if server > budget {
		t.Errorf("the pooler may open %d server connections, PostgreSQL takes %d beside its reserve", server, budget)
	}
	if total > maxClient {
		t.Errorf("%d client connections could land on one pooler instance, which takes %d", total, maxClient)
	}
	switch pooler.Spec.PgBouncer.PoolMode {
	case "session":
		// Every client connection holds a server connection; two of the
		// instances must carry it all (one lost, or the spread uneven).
		if spare := (instances - 1) * maxDB; total > spare {
			t.Errorf("session mode: %d client connections need as many server connections; %d instances less one give %d", total, instances, spare)
		}
		for _, s := range shares {
			if s.sum > (instances-1)*poolSize {
				t.Errorf("session mode: %s needs %d connections, its per-user pools give %d", s.svc, s.sum, (instances-1)*poolSize)
			}
		}
	case "transaction":
		for _, s := range shares {
			if s.relay > 0 {
				t.Errorf("transaction mode: %s's outbox relay holds a session advisory lock and LISTENs on a pooled connection; it needs session mode or a direct connection", s.svc)
			}
		}
	default:
		t.Errorf("pool mode %q", pooler.Spec.PgBouncer.PoolMode)
	}
}

// relayConns is the connection the outbox relay takes out of a service's
// pool for good (its lock and LISTEN), beyond the pool's size: 1 when the
// service runs a relay.
func relayConns(t *testing.T, svc string) int {
	t.Helper()
	dir := filepath.Join(root(t), "services", svc, "cmd", svc)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "outbox.NewRelay(") {
			return 1
		}
	}
	return 0
}

// replicasAtMost is the most pods of d that can run at once: the HPA's
// maximum (or the fixed count) plus the rollout's surge.
func replicasAtMost(d *appsv1.Deployment, hpaMax map[string]int) int {
	n := 1
	if d.Spec.Replicas != nil {
		n = int(*d.Spec.Replicas)
	}
	if m, ok := hpaMax[d.Name]; ok {
		n = m
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
		surge, _ := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, n, true)
		n += surge
	}
	return n
}

func TestDisruptionBudgetsAndSpread(t *testing.T) {
	objs := overlays(t)["prod"]
	deps := deployments(objs)
	hpaMin := map[string]int32{}
	for _, h := range Of[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		hpaMin[h.Spec.ScaleTargetRef.Name] = *h.Spec.MinReplicas
	}
	pdbs := map[string]*policyv1.PodDisruptionBudget{}
	for _, p := range Of[*policyv1.PodDisruptionBudget](objs) {
		pdbs[p.Name] = p
	}
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			d := deps[svc]
			if p := pdbs[svc]; p == nil || p.Spec.MinAvailable != nil || p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 {
				t.Error("PodDisruptionBudget is not maxUnavailable: 1 (minAvailable: 1 lets a drain take all but one)")
			}
			if min, ok := hpaMin[svc]; ok {
				if d.Spec.Replicas != nil {
					t.Errorf("replicas %d is set beside the HPA: every apply resets the autoscaled count", *d.Spec.Replicas)
				}
				if min < 2 {
					t.Errorf("HPA minimum %d", min)
				}
			} else if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
				t.Error("fewer than 2 replicas")
			}
			var hostHard, zone bool
			for _, c := range d.Spec.Template.Spec.TopologySpreadConstraints {
				if c.LabelSelector == nil || c.LabelSelector.MatchLabels["app.kubernetes.io/name"] != svc {
					t.Errorf("spread constraint on %s does not select the service's pods", c.TopologyKey)
				}
				hostHard = hostHard || (c.TopologyKey == "kubernetes.io/hostname" && c.WhenUnsatisfiable == corev1.DoNotSchedule)
				zone = zone || c.TopologyKey == "topology.kubernetes.io/zone"
			}
			if !hostHard || !zone {
				t.Errorf("spread: hard over nodes %v, over zones %v; want both", hostHard, zone)
			}
		})
	}
}

func TestShutdownFitsTheGracePeriod(t *testing.T) {
	for overlay, objs := range overlays(t) {
		common := map[string]string{}
		for _, cm := range Of[*corev1.ConfigMap](objs) {
			if strings.HasPrefix(cm.Name, "acube-common") {
				common = cm.Data
			}
		}
		for _, svc := range services {
			d := deployments(objs)[svc]
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			grace := common["SHUTDOWN_GRACE"]
			if e, ok := env(c, "SHUTDOWN_GRACE"); ok {
				grace = e.Value
			}
			g, err := time.ParseDuration(grace)
			if err != nil {
				t.Errorf("%s/%s: SHUTDOWN_GRACE %q: %v", overlay, svc, grace, err)
				continue
			}
			var preStop time.Duration
			if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
				preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			}
			if preStop < 5*time.Second {
				t.Errorf("%s/%s: preStop sleep %s; endpoints need a few seconds to drop the pod", overlay, svc, preStop)
			}
			if pod.TerminationGracePeriodSeconds == nil {
				t.Errorf("%s/%s: no terminationGracePeriodSeconds", overlay, svc)
				continue
			}
			budget := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
			if need := preStop + g + natsDrainAllowance; need >= budget {
				t.Errorf("%s/%s: preStop %s + SHUTDOWN_GRACE %s + NATS drain %s = %s, not under the %s grace: SIGKILL cuts the drain",
					overlay, svc, preStop, g, natsDrainAllowance, need, budget)
			}
		}
	}
}

// TestConfigChangesRollThePods edits the shared settings and the rate-limit
// table in a copy of deploy/k8s and checks that the Deployments' pod
// templates change with them: that change is what makes `kubectl apply -k`
// roll the pods. A ConfigMap under a fixed name would change under running
// pods that never read it again.
func TestConfigChangesRollThePods(t *testing.T) {
	mem := filesys.MakeFsInMemory()
	src := filepath.Join(root(t), "deploy/k8s")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		return mem.WriteFile(filepath.Join("/k8s", rel), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	templates := func() map[string]string {
		t.Helper()
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/k8s/overlays/prod")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range m.Resources() {
			if r.GetKind() != "Deployment" {
				continue
			}
			tmpl, err := r.GetFieldValue("spec.template")
			if err != nil {
				t.Fatal(err)
			}
			out[r.GetName()] = strings.TrimSpace(fmtAny(tmpl))
		}
		return out
	}
	edit := func(path, old, new string) {
		t.Helper()
		raw, err := mem.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), old) {
			t.Fatalf("%s has no %q to change", path, old)
		}
		if err := mem.WriteFile(path, []byte(strings.Replace(string(raw), old, new, 1))); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		path       string
		old, new   string
		wantRolled []string
	}{
		{"shared settings", "/k8s/base/common.env", "PUBLIC_BASE_URL=https://api.acube.example.org", "PUBLIC_BASE_URL=https://acube.example.net", services},
		{"rate-limit table", "/k8s/base/gateway/ratelimits.yaml", "limits: [10/minute, 30/hour]", "limits: [20/minute, 30/hour]", []string{"gateway"}},
		{"pod CIDRs", "/k8s/overlays/prod/cluster.env", "POD_CIDRS=10.244.0.0/16", "POD_CIDRS=10.8.0.0/14", []string{"gateway", "booking", "admin", "exporter"}},
	}
	for _, tt := range tests {
		before := templates()
		edit(tt.path, tt.old, tt.new)
		after := templates()
		for _, svc := range tt.wantRolled {
			if before[svc] == after[svc] {
				t.Errorf("%s: changing %s leaves %s's pod template as it was; the pods would not roll", tt.name, tt.path, svc)
			}
		}
	}
}

func TestTrustedProxiesComeFromTheCluster(t *testing.T) {
	for overlay, objs := range overlays(t) {
		var cidrs string
		var cluster string
		for _, cm := range Of[*corev1.ConfigMap](objs) {
			if strings.HasPrefix(cm.Name, "acube-cluster") {
				cidrs, cluster = cm.Data["POD_CIDRS"], cm.Name
			}
		}
		if cidrs == "" {
			t.Errorf("%s: no acube-cluster ConfigMap with POD_CIDRS", overlay)
			continue
		}
		for _, s := range strings.Split(cidrs, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			switch {
			case err != nil:
				t.Errorf("%s: POD_CIDRS %q: %v", overlay, s, err)
			case p.Addr().Is4() && p.Bits() < 12, p.Addr().Is6() && p.Bits() < 48:
				t.Errorf("%s: POD_CIDRS %s is wider than a pod range: anything in it could forge a client address", overlay, p)
			}
		}
		for svc, name := range map[string]string{"gateway": "TRUSTED_PROXIES", "booking": "BOOKING_TRUSTED_PROXIES", "admin": "ADMIN_TRUSTED_PROXIES", "exporter": "EXPORTER_TRUSTED_PROXIES"} {
			e, ok := env(deployments(objs)[svc].Spec.Template.Spec.Containers[0], name)
			if !ok || e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil ||
				e.ValueFrom.ConfigMapKeyRef.Name != cluster || e.ValueFrom.ConfigMapKeyRef.Key != "POD_CIDRS" {
				t.Errorf("%s/%s: %s does not come from %s POD_CIDRS", overlay, svc, name, cluster)
			}
		}
	}
}

func fmtAny(v any) string {
	raw, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(raw)
}

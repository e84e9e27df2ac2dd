package manifests

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/acube/platform/libs/stream"
)

// natsUsers are the Deployments that connect to NATS, each as the
// identity of its name; the gateway does not.
var natsUsers = []string{"booking", "admin", "mailer", "exporter"}

func natsValues(t *testing.T) *NATSValues {
	t.Helper()
	v, err := ReadNATSValues(filepath.Join(root(t), "deploy/k8s/infra/nats/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestNATSAccountsAreTheIdentitiesTable: the server's accounts block in
// the chart's values is the one libs/stream renders from its identities
// table, with each key read from the variable that names it, so the
// permissions deployed are the ones the libs tests run under. On a
// mismatch the test prints the block to paste.
func TestNATSAccountsAreTheIdentitiesTable(t *testing.T) {
	v := natsValues(t)
	keys := map[string]string{}
	for _, svc := range stream.Services() {
		keys[svc] = "<< $" + stream.NKeyVar(svc) + " >>"
	}
	accounts, err := stream.ServerAccounts(keys)
	if err != nil {
		t.Fatal(err)
	}
	want := roundTrip(t, accounts)
	got := roundTrip(t, v.Config.Merge["accounts"])
	if !reflect.DeepEqual(got, want) {
		block, err := yaml.Marshal(map[string]any{"accounts": want})
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("config.merge.accounts in deploy/k8s/infra/nats/values.yaml is not what libs/stream derives; replace it with:\n%s",
			indent(string(block), "    "))
	}
	if len(v.Config.Merge) != 1 {
		t.Errorf("config.merge holds %d keys; only the accounts belong there (no_auth_user, authorization would open a way around them)", len(v.Config.Merge))
	}
}

// roundTrip turns v into the generic form JSON decodes to, so a value
// read from YAML and one built in Go compare alike.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// TestNATSKeysComeFromSecrets: the server reads each public key from a
// variable its pod takes from a Secret, the operators' nats-box its seed
// from a Secret; the committed files hold no key or seed.
func TestNATSKeysComeFromSecrets(t *testing.T) {
	v := natsValues(t)
	for _, svc := range stream.Services() {
		name := stream.NKeyVar(svc)
		src, ok := v.Container.Env[name].(map[string]any)
		ref, _ := src["valueFrom"].(map[string]any)
		if !ok || ref["secretKeyRef"] == nil {
			t.Errorf("container.env.%s is %v, want a valueFrom.secretKeyRef", name, v.Container.Env[name])
		}
	}
	if ctx := v.NatsBox.Contexts["default"]; v.NatsBox.Enabled && (ctx.NKey.SecretName == "" || ctx.NKey.Key == "") {
		t.Error("nats-box connects without an identity; give its default context the ops seed's Secret")
	}
	// Public user keys are 56 characters starting with U, seeds with SU.
	key := regexp.MustCompile(`\b(U|SU)[A-Z2-7]{54,}\b`)
	for _, f := range []string{"deploy/k8s/infra/nats/values.yaml", "deploy/k8s/base/common.env"} {
		raw, err := os.ReadFile(filepath.Join(root(t), f))
		if err != nil {
			t.Fatal(err)
		}
		if m := key.Find(raw); m != nil {
			t.Errorf("%s holds an NKey (%.8s…); keys come from Secrets", f, m)
		}
	}
}

// TestNATSUsesTLSAndEachServiceItsIdentity: the servers present the
// certificate of deploy/k8s/infra/nats/certificate.yaml on the client port
// and the routes; the services dial tls:// a name that certificate holds,
// verify it with the authority (NATS_CA_FILE) and prove who they are with
// their own seed (NATS_NKEY_FILE), each mounted from a Secret of its own.
// The gateway holds neither.
func TestNATSUsesTLSAndEachServiceItsIdentity(t *testing.T) {
	v := natsValues(t)
	if !v.Config.Nats.TLS.Enabled || v.Config.Nats.TLS.SecretName == "" {
		t.Error("the client port (4222) does not use TLS from a Secret")
	}
	if v.Config.Cluster.Enabled && (!v.Config.Cluster.TLS.Enabled || v.Config.Cluster.TLS.SecretName == "") {
		t.Error("the routes (6222) do not use TLS")
	}
	if !v.TLSCA.Enabled || v.TLSCA.SecretName == "" {
		t.Error("tlsCA is off: the routes and nats-box would not verify the servers")
	}
	names := certificateNames(t, v.Config.Nats.TLS.SecretName)

	for overlay, objs := range overlays(t) {
		deps := deployments(objs)
		for _, svc := range services {
			t.Run(overlay+"/"+svc, func(t *testing.T) {
				d := deps[svc]
				if d == nil {
					t.Fatal("no Deployment")
				}
				c := d.Spec.Template.Spec.Containers[0]
				if !slices.Contains(natsUsers, svc) {
					for _, name := range []string{"NATS_NKEY_FILE", "NATS_CA_FILE"} {
						if _, ok := env(c, name); ok {
							t.Errorf("%s set for a service that does not use NATS", name)
						}
					}
					return
				}
				u, err := url.Parse(configValue(t, objs, c, "NATS_URL"))
				if err != nil || u.Scheme != "tls" || u.User != nil {
					t.Errorf("NATS_URL %v: want tls:// without credentials (%v)", u, err)
				} else if !slices.Contains(names, u.Hostname()) {
					t.Errorf("NATS_URL names %s, which the servers' certificate does not (%v)", u.Hostname(), names)
				}
				for name, want := range map[string]string{
					"NATS_NKEY_FILE": "acube-nats-" + svc,
					"NATS_CA_FILE":   "acube-nats-ca",
				} {
					e, ok := env(c, name)
					if !ok || e.Value == "" {
						t.Errorf("%s not set", name)
						continue
					}
					if got := secretBehind(d, c, e.Value); got != want {
						t.Errorf("%s %s comes from Secret %q, want %q", name, e.Value, got, want)
					}
				}
			})
		}
	}
}

// certificateNames are the DNS names of the cert-manager Certificate that
// writes secret.
func certificateNames(t *testing.T, secret string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "deploy/k8s/infra/nats/certificate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---") {
		var c struct {
			Kind string `json:"kind"`
			Spec struct {
				SecretName string   `json:"secretName"`
				DNSNames   []string `json:"dnsNames"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
			t.Fatal(err)
		}
		if c.Kind == "Certificate" && c.Spec.SecretName == secret {
			return c.Spec.DNSNames
		}
	}
	t.Fatalf("no Certificate writes Secret %s", secret)
	return nil
}

// configValue is the value of variable name in container c: set inline or
// through the ConfigMap its envFrom names.
func configValue(t *testing.T, objs []Object, c corev1.Container, name string) string {
	t.Helper()
	if e, ok := env(c, name); ok {
		return e.Value
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		for _, cm := range Of[*corev1.ConfigMap](objs) {
			if cm.Name == ef.ConfigMapRef.Name {
				if v, ok := cm.Data[name]; ok {
					return v
				}
			}
		}
	}
	t.Fatalf("%s is not set", name)
	return ""
}

// secretBehind names the Secret that provides the file at path in
// container c, through a secret or projected volume mounted above it.
func secretBehind(d *appsv1.Deployment, c corev1.Container, path string) string {
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, vol := range d.Spec.Template.Spec.Volumes {
			if vol.Name != m.Name {
				continue
			}
			switch {
			case vol.Secret != nil:
				return vol.Secret.SecretName
			case vol.Projected != nil:
				for _, src := range vol.Projected.Sources {
					if src.Secret == nil {
						continue
					}
					for _, item := range src.Secret.Items {
						if item.Path == rel {
							return src.Secret.Name
						}
					}
				}
			}
		}
	}
	return ""
}

// TestInfraNetworkPolicies: in acube-infra, ingress is denied by default
// and each port is open to exactly the pods of the architecture.
func TestInfraNetworkPolicies(t *testing.T) {
	policies, err := ReadNetworkPolicies(filepath.Join(root(t), "deploy/k8s/infra/networkpolicies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var denyAll bool
	for _, p := range policies {
		if p.Namespace != "acube-infra" {
			t.Errorf("NetworkPolicy %s is for namespace %q, want acube-infra", p.Name, p.Namespace)
		}
		if len(p.Spec.PodSelector.MatchLabels)+len(p.Spec.PodSelector.MatchExpressions) == 0 && len(p.Spec.Ingress) == 0 &&
			slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			denyAll = true
		}
	}
	if !denyAll {
		t.Fatal("no default-deny ingress policy in acube-infra")
	}
	const (
		prometheus = "monitoring/prometheus"
		operator   = "cnpg-system/cloudnative-pg"
	)
	services := "acube/{booking,admin,mailer,exporter}"
	tests := []struct {
		pod  map[string]string // labels of the infrastructure pod
		port int32
		want []string
	}{
		{pod: map[string]string{"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats"}, port: 4222,
			want: []string{services, "acube-infra/nats-box"}},
		{pod: map[string]string{"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats"}, port: 6222,
			want: []string{"acube-infra/nats"}},
		{pod: map[string]string{"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats"}, port: 8222, want: []string{prometheus}},
		{pod: map[string]string{"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats"}, port: 7777, want: []string{prometheus}},
		{pod: map[string]string{"cnpg.io/poolerName": "acube-pg-pooler-rw"}, port: 5432, want: []string{services}},
		{pod: map[string]string{"cnpg.io/cluster": "acube-pg"}, port: 5432,
			want: []string{services, "acube-infra/pg-pooler", "acube-infra/pg"}},
		{pod: map[string]string{"cnpg.io/cluster": "acube-pg"}, port: 8000, want: []string{operator}},
		{pod: map[string]string{"cnpg.io/cluster": "acube-pg"}, port: 9187, want: []string{prometheus}},
		{pod: map[string]string{"app.kubernetes.io/name": "redis"}, port: 6379, want: []string{"acube/gateway", "acube-infra/redis"}},
		{pod: map[string]string{"app.kubernetes.io/name": "redis"}, port: 26379, want: []string{"acube/gateway", "acube-infra/redis"}},
		{pod: map[string]string{"app.kubernetes.io/name": "redis"}, port: 9121, want: []string{prometheus}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range policies {
			if !selects(p.Spec.PodSelector.MatchLabels, tt.pod) {
				continue
			}
			for _, rule := range p.Spec.Ingress {
				if !slices.ContainsFunc(rule.Ports, func(pp networkingv1.NetworkPolicyPort) bool { return pp.Port.IntVal == tt.port }) {
					continue
				}
				for _, peer := range rule.From {
					got = append(got, peerName(peer))
				}
			}
		}
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%v port %d takes traffic from %v, want %v", tt.pod, tt.port, got, tt.want)
		}
	}
}

// selects reports whether a pod with labels is selected by matchLabels.
func selects(matchLabels, labels map[string]string) bool {
	for k, v := range matchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// peerName writes a peer as namespace/what: acube/gateway,
// acube/{booking,admin} for a set of names, monitoring/prometheus.
func peerName(peer networkingv1.NetworkPolicyPeer) string {
	ns := "acube-infra"
	if peer.NamespaceSelector != nil {
		ns = peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
		if ns == "" {
			return "any namespace"
		}
	}
	if peer.PodSelector == nil || peer.IPBlock != nil {
		return ns + "/any"
	}
	l := peer.PodSelector.MatchLabels
	switch {
	case len(peer.PodSelector.MatchExpressions) == 1 && peer.PodSelector.MatchExpressions[0].Key == "app.kubernetes.io/name" &&
		peer.PodSelector.MatchExpressions[0].Operator == "In":
		return ns + "/{" + strings.Join(peer.PodSelector.MatchExpressions[0].Values, ",") + "}"
	case l["app.kubernetes.io/component"] == "nats-box":
		return ns + "/nats-box"
	case l["cnpg.io/poolerName"] != "":
		return ns + "/pg-pooler"
	case l["cnpg.io/cluster"] != "":
		return ns + "/pg"
	case l["app.kubernetes.io/name"] != "" && len(peer.PodSelector.MatchExpressions) == 0:
		return ns + "/" + l["app.kubernetes.io/name"]
	}
	return ns + "/other"
}

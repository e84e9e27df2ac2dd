package prodlike

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/acube/platform/libs/stream"
)

// natsAuth is what the NATS servers run with for the identities and TLS
// the manifests ask for.
type natsAuth struct {
	// Config is appended to each server's configuration: the values'
	// merge block (the accounts with their users and permissions), or
	// libs/stream's accounts block when the values have none but the pods
	// hold identities; "" when nobody authenticates.
	Config string
	// Env is the servers' environment: the values' container.env, the
	// public keys the merge block reads ($BOOKING_NKEY, ...).
	Env []string
	// ClientTLS and ClusterTLS say the servers present the topology's
	// certificate to clients, and to each other on their routes.
	ClientTLS, ClusterTLS bool
}

// natsIdentities makes one NKey per identity of libs/stream and puts each
// half where the manifests read it: the seed into the Secret a
// Deployment's NATS_NKEY_FILE points into (and the nats-box context's,
// for the operators' identity), the public key into the Secret the NATS
// chart's container.env reads for that identity's variable
// (stream.NKeyVar). The topology's CA goes into the Secret a
// NATS_CA_FILE points into. It returns the servers' configuration and
// environment.
func natsIdentities(m *Manifests, sec *Secrets, ca *authority) (natsAuth, error) {
	v := m.NATS
	auth := natsAuth{ClientTLS: v.Config.Nats.TLS.Enabled, ClusterTLS: v.Config.Cluster.TLS.Enabled}
	keys := map[string]stream.NKey{}
	for _, id := range stream.Services() {
		nk, err := stream.NewNKey()
		if err != nil {
			return auth, err
		}
		keys[id] = nk
	}
	held := map[string]string{} // identity → public key, of the identities pods hold
	for _, d := range m.Deployments {
		ps := d.Spec.Template.Spec
		for _, c := range slices.Concat(ps.InitContainers, ps.Containers) {
			for _, e := range c.Env {
				if e.Name != "NATS_NKEY_FILE" && e.Name != "NATS_CA_FILE" || e.Value == "" {
					continue
				}
				secret, key, err := secretFile(ps, c, e.Value)
				if err != nil {
					return auth, fmt.Errorf("deployment %s: %s: %w", d.Name, e.Name, err)
				}
				if e.Name == "NATS_CA_FILE" {
					pem, err := os.ReadFile(ca.CAFile)
					if err != nil {
						return auth, fmt.Errorf("nats ca: %w", err)
					}
					sec.Set(secret, key, string(pem))
					auth.ClientTLS = true
					continue
				}
				nk, ok := keys[d.Name]
				if !ok {
					return auth, fmt.Errorf("deployment %s holds a NATS identity, but libs/stream has none of that name (%s)",
						d.Name, strings.Join(stream.Services(), ", "))
				}
				sec.Set(secret, key, string(nk.Seed)+"\n")
				held[d.Name] = nk.Public
			}
		}
	}
	for _, ctx := range v.NatsBox.Contexts {
		if ctx.NKey.SecretName != "" {
			sec.Set(ctx.NKey.SecretName, ctx.NKey.Key, string(keys[stream.Ops].Seed)+"\n")
		}
	}
	names := make([]string, 0, len(v.Container.Env))
	for n := range v.Container.Env {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		val, err := chartEnv(name, v.Container.Env[name], keys, sec)
		if err != nil {
			return auth, err
		}
		auth.Env = append(auth.Env, name+"="+val)
	}
	switch {
	case len(v.Config.Merge) > 0:
		text, err := mergeConfig(v.Config.Merge)
		if err != nil {
			return auth, err
		}
		auth.Config = text
	case len(held) > 0:
		text, err := stream.ServerConfig(held)
		if err != nil {
			return auth, err
		}
		auth.Config = text
	}
	return auth, nil
}

// chartEnv resolves one entry of the NATS chart's container.env: a value,
// or a secretKeyRef, which for an identity's variable is that identity's
// public key (stored in the Secret), for anything else the Secret's value.
func chartEnv(name string, raw any, keys map[string]stream.NKey, sec *Secrets) (string, error) {
	if s, ok := raw.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return "", fmt.Errorf("nats values: container.env %s: %w", name, err)
	}
	var ev corev1.EnvVar
	if err := json.Unmarshal(b, &ev); err != nil {
		return "", fmt.Errorf("nats values: container.env %s: %w", name, err)
	}
	if ev.ValueFrom == nil || ev.ValueFrom.SecretKeyRef == nil {
		return ev.Value, nil
	}
	ref := ev.ValueFrom.SecretKeyRef
	for id, nk := range keys {
		if stream.NKeyVar(id) == name {
			sec.Set(ref.Name, ref.Key, nk.Public)
			return nk.Public, nil
		}
	}
	return sec.Get(ref.Name, ref.Key)
}

// chartVariable is the NATS chart's way of writing a variable reference
// unquoted in a values string: "<< $X >>".
var chartVariable = regexp.MustCompile(`"<< *(\$[A-Za-z_][A-Za-z0-9_]*) *>>"`)

// mergeConfig renders the values' config.merge as server configuration,
// as the chart does: JSON, which the server's parser reads, with each
// "<< $X >>" written as the bare variable reference $X.
func mergeConfig(merge map[string]any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the server's parser knows no \u escapes (">")
	enc.SetIndent("", "  ")
	if err := enc.Encode(merge); err != nil {
		return "", fmt.Errorf("nats values: render merge: %w", err)
	}
	body := strings.TrimSpace(b.String())
	// The top level's braces go: the server's file is a list of keys.
	body = strings.TrimSuffix(strings.TrimPrefix(body, "{"), "}")
	return chartVariable.ReplaceAllString(body, "$1"), nil
}

// secretFile finds the Secret volume (or the Secret source of a projected
// volume) mounted in c under which file lies, and the key of the Secret
// that file is.
func secretFile(ps corev1.PodSpec, c corev1.Container, file string) (secret, key string, err error) {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		i := slices.IndexFunc(ps.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 {
			return "", "", fmt.Errorf("%s: no volume %s", file, vm.Name)
		}
		if vm.SubPath != "" {
			rel = path.Join(vm.SubPath, rel)
		}
		for _, src := range secretSources(ps.Volumes[i]) {
			for _, it := range src.Items {
				if it.Path == rel {
					return src.Name, it.Key, nil
				}
			}
			if len(src.Items) == 0 {
				return src.Name, rel, nil
			}
		}
		return "", "", fmt.Errorf("%s is in no Secret of volume %s", file, vm.Name)
	}
	return "", "", fmt.Errorf("%s is on no volume of container %s", file, c.Name)
}

// secretSource is a Secret a volume shows, with its items.
type secretSource struct {
	Name  string
	Items []corev1.KeyToPath
}

// secretSources lists the Secrets a volume shows: a secret volume's, or
// the secret sources of a projected one.
func secretSources(v corev1.Volume) []secretSource {
	if v.Secret != nil {
		return []secretSource{{Name: v.Secret.SecretName, Items: v.Secret.Items}}
	}
	var out []secretSource
	if v.Projected != nil {
		for _, s := range v.Projected.Sources {
			if s.Secret != nil {
				out = append(out, secretSource{Name: s.Secret.Name, Items: s.Secret.Items})
			}
		}
	}
	return out
}

package prodlike

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// envVar is one resolved environment variable.
type envVar struct{ Name, Value string }

// podInfo is what the downward API can tell a container about its pod.
type podInfo struct {
	Name, Namespace string
}

// resolveEnv computes a container's environment as the kubelet does:
// envFrom first (ConfigMaps and Secrets, with their prefix), then env in
// order, each value with $(VAR) references to the variables defined before
// it expanded ($$ is a literal $, an unknown reference stays as written),
// valueFrom read from the overlay's ConfigMaps, the local Secrets or the
// pod's own fields. A later definition of a name replaces an earlier one.
func resolveEnv(c corev1.Container, m *Manifests, sec *Secrets, pod podInfo) ([]envVar, error) {
	var env []envVar
	set := func(name, value string) {
		if i := slices.IndexFunc(env, func(e envVar) bool { return e.Name == name }); i >= 0 {
			env[i].Value = value
			return
		}
		env = append(env, envVar{name, value})
	}
	lookup := func(name string) (string, bool) {
		i := slices.IndexFunc(env, func(e envVar) bool { return e.Name == name })
		if i < 0 {
			return "", false
		}
		return env[i].Value, true
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := m.configMap(from.ConfigMapRef.Name)
			if !ok {
				if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("container %s: envFrom ConfigMap %s is not in the overlay", c.Name, from.ConfigMapRef.Name)
			}
			keys := make([]string, 0, len(cm.Data))
			for k := range cm.Data {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			for _, k := range sec.Keys(from.SecretRef.Name) {
				v, err := sec.Get(from.SecretRef.Name, k)
				if err != nil {
					return nil, err
				}
				set(from.Prefix+k, v)
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := valueFrom(e, m, sec, pod)
		if err != nil {
			return nil, fmt.Errorf("container %s: %s: %w", c.Name, e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	return env, nil
}

// valueFrom reads one env entry's valueFrom; ok is false for an optional
// reference to something missing.
func valueFrom(e corev1.EnvVar, m *Manifests, sec *Secrets, pod podInfo) (string, bool, error) {
	vf := e.ValueFrom
	switch {
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		cm, ok := m.configMap(ref.Name)
		var v string
		if ok {
			v, ok = cm.Data[ref.Key]
		}
		if !ok {
			if ref.Optional != nil && *ref.Optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("ConfigMap %s has no key %s in the overlay", ref.Name, ref.Key)
		}
		return v, true, nil
	case vf.SecretKeyRef != nil:
		v, err := sec.Get(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key)
		return v, err == nil, err
	case vf.FieldRef != nil:
		switch vf.FieldRef.FieldPath {
		case "metadata.name", "spec.nodeName":
			return pod.Name, true, nil
		case "metadata.namespace":
			return pod.Namespace, true, nil
		case "status.podIP", "status.hostIP":
			return "127.0.0.1", true, nil
		}
		return "", false, fmt.Errorf("fieldRef %s is not known to the topology", vf.FieldRef.FieldPath)
	}
	return "", false, fmt.Errorf("valueFrom of a kind the topology does not know")
}

// expand replaces $(NAME) by lookup(NAME) the way Kubernetes expands
// container env values, commands and args: $$ escapes a $, and a
// reference to an unknown name is left as written.
func expand(s string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// localizer turns a resolved pod setting into the local one: cluster names
// to local addresses (DNS), a listen address on a container port to the
// replica's own port, a path under a volume's mount to the local
// directory standing in for the volume.
type localizer struct {
	dns *DNS
	// ports maps a container port to the replica's local port.
	ports map[int]int
	// mounts maps a mount path to a local directory.
	mounts map[string]string
}

// value localizes one setting.
func (l localizer) value(v string) (string, error) {
	v, err := l.dns.Rewrite(v)
	if err != nil {
		return "", err
	}
	// ":8101", "0.0.0.0:8101": where the container listens.
	if host, p, ok := strings.Cut(v, ":"); ok && (host == "" || host == "0.0.0.0" || host == "[::]") {
		if n, err := strconv.Atoi(p); err == nil {
			if local, ok := l.ports[n]; ok {
				return "127.0.0.1:" + strconv.Itoa(local), nil
			}
		}
	}
	// The longest mount path first, so /etc/acube/keys wins over /etc/acube.
	paths := make([]string, 0, len(l.mounts))
	for p := range l.mounts {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	for _, p := range paths {
		if v == p || strings.HasPrefix(v, strings.TrimSuffix(p, "/")+"/") {
			return filepath.Join(l.mounts[p], strings.TrimPrefix(v, p)), nil
		}
	}
	return v, nil
}

package prodlike

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// Deployment runs one Deployment's pods as local processes of the binary
// its image names, each with the environment, volumes, ports and probes
// of the pod template, behind the Balancer of the Service that selects
// them.
type Deployment struct {
	// Name is the Deployment's.
	Name string
	top  *Topology
	spec *appsv1.Deployment
	// lb is the Balancer of the Service selecting the pods; nil if none.
	lb *chaos.Balancer
	// servicePort is the container port the Service sends to;
	// probePort and probePath are where the readiness probe asks.
	servicePort, probePort int
	probePath              string

	mu   sync.Mutex
	pods []*Pod
	seq  int
}

// Pod is one replica: a process with its own ports and directories.
type Pod struct {
	// Name is the Deployment's name and a sequence number, as a pod's.
	Name string
	// Addr is the host:port the Service's traffic reaches.
	Addr string
	// ProbeAddr is the host:port of the readiness probe (and of
	// /metrics): Addr, or an internal port of the pod's own.
	ProbeAddr string
	// Ports maps each container port to the local one.
	Ports map[int]int
	dir   string
	// Env is the resolved, localized environment the process runs with.
	Env  []string
	proc *stack.Process
}

// Pid is the process id.
func (p *Pod) Pid() int { return p.proc.Pid() }

// container is the pod template's main container (the first).
func (d *Deployment) container() corev1.Container { return d.spec.Spec.Template.Spec.Containers[0] }

// binary is the program a container runs: its command's first word, or
// the last element of its image's repository (ghcr.io/acube/booking:v1 is
// bin/booking), looked up in the topology's bin directory.
func (d *Deployment) binary(c corev1.Container) (string, []string) {
	args := slices.Clone(c.Args)
	name := c.Image
	if len(c.Command) > 0 {
		name = c.Command[0]
		args = append(slices.Clone(c.Command[1:]), args...)
	} else {
		name, _, _ = strings.Cut(name, "@")
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
	}
	return filepath.Join(d.top.cfg.Bin, path.Base(name)), args
}

// prepare resolves container c's environment, volumes and ports for a pod
// named name in dir; ports are the local ports of c's container ports.
func (d *Deployment) prepare(c corev1.Container, name, dir string, ports map[int]int) (stack.Spec, error) {
	t := d.top
	env, err := resolveEnv(c, t.manifests, t.secrets, podInfo{Name: name, Namespace: d.spec.Namespace})
	if err != nil {
		return stack.Spec{}, fmt.Errorf("%s: %w", name, err)
	}
	mounts, err := d.volumes(c, env, name, dir)
	if err != nil {
		return stack.Spec{}, fmt.Errorf("%s: %w", name, err)
	}
	loc := localizer{dns: t.dns, ports: ports, mounts: mounts}
	var out []string
	lookup := map[string]string{}
	for _, e := range env {
		v, err := loc.value(e.Value)
		if err != nil {
			return stack.Spec{}, fmt.Errorf("%s: %s: %w", name, e.Name, err)
		}
		switch e.Name {
		// The SMTP provider is outside the cluster: Mailpit (or the test's
		// sink) stands in for it.
		case "SMTP_HOST":
			v = t.smtpHost
		case "SMTP_PORT":
			v = strconv.Itoa(t.smtpPort)
		}
		out = append(out, e.Name+"="+v)
		lookup[e.Name] = v
	}
	// Every pod trusts the topology's CA, as pods trust their cluster's.
	out = append(out, "SSL_CERT_FILE="+t.ca.CAFile)
	out = append(out, t.cfg.Env[d.Name]...)
	bin, args := d.binary(c)
	for i, a := range args {
		args[i] = expand(a, func(n string) (string, bool) { v, ok := lookup[n]; return v, ok })
	}
	addr := ""
	if p, ok := ports[d.servicePort]; ok {
		addr = stack.Addr(p)
	}
	return stack.Spec{Name: name, Bin: bin, Args: args, Env: out, Addr: addr}, nil
}

// volumes makes a local directory for each of c's volume mounts and
// returns mount path → directory: an emptyDir per pod, a claim shared by
// every pod (as the manifests' ReadWriteMany claims are), a ConfigMap's
// or Secret's keys as files.
func (d *Deployment) volumes(c corev1.Container, env []envVar, pod, dir string) (map[string]string, error) {
	t := d.top
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		i := slices.IndexFunc(d.spec.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 {
			return nil, fmt.Errorf("volume mount %s: no such volume", vm.Name)
		}
		v := d.spec.Spec.Template.Spec.Volumes[i]
		var local string
		files := map[string]string{}
		switch {
		case v.EmptyDir != nil:
			local = filepath.Join(dir, "volumes", v.Name)
		case v.PersistentVolumeClaim != nil:
			local = filepath.Join(t.dir, "claims", v.PersistentVolumeClaim.ClaimName)
		case v.ConfigMap != nil:
			cm, ok := t.manifests.configMap(v.ConfigMap.Name)
			if !ok {
				return nil, fmt.Errorf("volume %s: ConfigMap %s is not in the overlay", v.Name, v.ConfigMap.Name)
			}
			local = filepath.Join(dir, "volumes", v.Name)
			for k, val := range cm.Data {
				files[k] = val
			}
			if len(v.ConfigMap.Items) > 0 {
				files = map[string]string{}
				for _, it := range v.ConfigMap.Items {
					files[it.Path] = cm.Data[it.Key]
				}
			}
		case v.Secret != nil || v.Projected != nil:
			local = filepath.Join(dir, "volumes", v.Name)
			if v.Projected != nil {
				for _, src := range v.Projected.Sources {
					if src.ConfigMap == nil {
						continue
					}
					cm, ok := t.manifests.configMap(src.ConfigMap.Name)
					if !ok {
						return nil, fmt.Errorf("volume %s: ConfigMap %s is not in the overlay", v.Name, src.ConfigMap.Name)
					}
					for _, it := range src.ConfigMap.Items {
						files[it.Path] = cm.Data[it.Key]
					}
				}
			}
			for _, src := range secretSources(v) {
				paths := map[string]string{} // key → file
				for _, it := range src.Items {
					paths[it.Key] = it.Path
				}
				if len(src.Items) == 0 {
					for _, k := range t.secrets.Keys(src.Name) {
						paths[k] = k
					}
					// The keys a setting points at under the mount: a
					// Secret not in the repository is known by what
					// reads it.
					for _, e := range env {
						if rest, ok := strings.CutPrefix(e.Value, strings.TrimSuffix(vm.MountPath, "/")+"/"); ok {
							k := strings.Split(rest, "/")[0]
							paths[k] = k
						}
					}
				}
				for k, p := range paths {
					val, err := t.secrets.Get(src.Name, k)
					if err != nil {
						return nil, err
					}
					files[p] = val
				}
			}
		default:
			return nil, fmt.Errorf("volume %s: a kind the topology does not run", v.Name)
		}
		if err := os.MkdirAll(local, 0o700); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		for p, val := range files {
			if err := os.WriteFile(filepath.Join(local, p), []byte(val), 0o600); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
		if vm.SubPath != "" {
			local = filepath.Join(local, vm.SubPath)
		}
		mounts[vm.MountPath] = local
	}
	return mounts, nil
}

// runInit runs the pod template's init containers once, in order, each to
// completion: the migrate step a Deployment runs before its serving
// container.
func (d *Deployment) runInit(ctx context.Context) error {
	for _, c := range d.spec.Spec.Template.Spec.InitContainers {
		name := d.Name + "-init-" + c.Name
		dir := filepath.Join(d.top.dir, "pods", name)
		spec, err := d.prepare(c, name, dir, map[int]int{})
		if err != nil {
			return err
		}
		p, err := stack.Start(spec, d.top.out)
		if err != nil {
			return err
		}
		select {
		case <-p.Done():
		case <-ctx.Done():
			p.Kill()
			return fmt.Errorf("init container %s of %s: %w", c.Name, d.Name, ctx.Err())
		}
		if err := p.Err(); err != nil {
			return fmt.Errorf("init container %s of %s: %w (its output is in the log)", c.Name, d.Name, err)
		}
	}
	return nil
}

// startPod creates a pod (ports, directories, process) and adds it to the
// Service's balancer, which sends to it once its readiness probe passes.
func (d *Deployment) startPod() (*Pod, error) {
	d.mu.Lock()
	d.seq++
	name := fmt.Sprintf("%s-%d", d.Name, d.seq)
	d.mu.Unlock()
	c := d.container()
	pod := &Pod{Name: name, Ports: map[int]int{}, dir: filepath.Join(d.top.dir, "pods", name)}
	for _, p := range c.Ports {
		local, err := d.top.ports.pick()
		if err != nil {
			return nil, err
		}
		pod.Ports[int(p.ContainerPort)] = local
	}
	spec, err := d.prepare(c, name, pod.dir, pod.Ports)
	if err != nil {
		return nil, err
	}
	pod.Addr, pod.Env = spec.Addr, spec.Env
	pod.ProbeAddr = pod.Addr
	if p, ok := pod.Ports[d.probePort]; ok {
		pod.ProbeAddr = stack.Addr(p)
	}
	if pod.proc, err = stack.Start(spec, d.top.out); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.pods = append(d.pods, pod)
	d.mu.Unlock()
	if d.lb != nil && pod.Addr != "" {
		d.lb.AddProbed(pod.Addr, "http://"+pod.ProbeAddr+d.probePath)
	}
	return pod, nil
}

// waitReady waits until the Service sends to pod (its readiness probe
// passed), or the pod's process exits.
func (d *Deployment) waitReady(ctx context.Context, pod *Pod) error {
	if d.lb == nil {
		return pod.proc.WaitReady(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-pod.proc.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := d.lb.WaitBackend(ctx, pod.Addr); err != nil {
		select {
		case <-pod.proc.Done():
			return fmt.Errorf("%s exited before it was ready: %v", pod.Name, pod.proc.Err())
		default:
		}
		return fmt.Errorf("%s: %w", pod.Name, err)
	}
	return nil
}

// Pods lists the running pods, oldest first.
func (d *Deployment) Pods() []*Pod {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.pods)
}

// Balancer is the Balancer of the Service in front of the pods.
func (d *Deployment) Balancer() *chaos.Balancer { return d.lb }

// KillPod SIGKILLs pod i's process, as a crash would; the pod stays (its
// container restarts in place, see RestartPod).
func (d *Deployment) KillPod(i int) error {
	d.mu.Lock()
	if i < 0 || i >= len(d.pods) {
		d.mu.Unlock()
		return fmt.Errorf("%s: no pod %d", d.Name, i)
	}
	p := d.pods[i]
	d.mu.Unlock()
	p.proc.Kill()
	return nil
}

// RestartPod starts an exited pod's process again with the same ports,
// directories and environment, as the kubelet restarts a crashed
// container, and waits until the Service sends to it again.
func (d *Deployment) RestartPod(ctx context.Context, i int) error {
	d.mu.Lock()
	if i < 0 || i >= len(d.pods) {
		d.mu.Unlock()
		return fmt.Errorf("%s: no pod %d", d.Name, i)
	}
	p := d.pods[i]
	np, err := p.proc.Respawn()
	if err == nil {
		p.proc = np
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return d.waitReady(ctx, p)
}

// terminate stops a pod as the kubelet does: it leaves the Service's
// endpoints at once, sleeps the preStop hook's seconds, then gets SIGTERM
// and, after the rest of terminationGracePeriodSeconds, SIGKILL. An error
// says it had to be killed or exited non-zero.
func (d *Deployment) terminate(p *Pod, preStop bool) error {
	d.mu.Lock()
	d.pods = slices.DeleteFunc(d.pods, func(q *Pod) bool { return q == p })
	d.mu.Unlock()
	if d.lb != nil && p.Addr != "" {
		d.lb.Remove(p.Addr)
	}
	ps := d.spec.Spec.Template.Spec
	grace := 30 * time.Second
	if ps.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second
	}
	if lc := d.container().Lifecycle; preStop && lc != nil && lc.PreStop != nil && lc.PreStop.Sleep != nil {
		hook := time.Duration(lc.PreStop.Sleep.Seconds) * time.Second
		select {
		case <-time.After(hook):
		case <-p.proc.Done():
		}
		grace -= hook
	}
	return p.proc.Stop(max(grace, 2*time.Second))
}

// RollingRestart replaces every pod as a rollout with maxSurge 1 and
// maxUnavailable 0 does: start a new pod, wait until the Service sends to
// it, then terminate one old pod (preStop, SIGTERM) while the next new one
// starts, until none of the old pods is left. An error names a pod that
// did not become ready or did not stop cleanly.
func (d *Deployment) RollingRestart(ctx context.Context) error {
	old := d.Pods()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, o := range old {
		p, err := d.startPod()
		if err == nil {
			err = d.waitReady(ctx, p)
		}
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			break
		}
		wg.Go(func() {
			if err := d.terminate(o, true); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("terminate %s: %w", o.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop terminates every pod at once without the preStop wait.
func (d *Deployment) Stop() error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range d.Pods() {
		wg.Go(func() {
			if err := d.terminate(p, false); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

package prodlike

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"regexp"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// The operators' verbs of docs/operations.md on the topology: what
// `kubectl apply` of a changed ConfigMap, Secret or pod template, `kubectl
// scale` and a database restore do, so that every procedure there can be
// executed here (ops_test.go).

// hashSuffix matches the content hash Kustomize appends to a generated
// ConfigMap's name.
var hashSuffix = regexp.MustCompile(`^-[a-z0-9]{10}$`)

// ApplyConfigMap replaces the keys of data in the overlay's ConfigMap
// name (the generator's name, without Kustomize's hash suffix), as
// `kubectl apply -k` of an edited generator source does. Running pods keep
// what they started with (nothing re-reads a ConfigMap); pods started
// afterwards, by a rollout (Deployment.RollingRestart) or a scale-up, get
// the new values — on the cluster the new hash in the name is what rolls
// the Deployments that use it.
func (t *Topology) ApplyConfigMap(name string, data map[string]string) error {
	for _, cm := range t.manifests.ConfigMaps {
		rest, ok := strings.CutPrefix(cm.Name, name)
		if !ok || (rest != "" && !hashSuffix.MatchString(rest)) {
			continue
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		maps.Copy(cm.Data, data)
		return nil
	}
	return fmt.Errorf("prodlike: the overlay has no ConfigMap %s", name)
}

// ConfigMapData returns a copy of the data of the overlay's ConfigMap name
// (without the hash suffix).
func (t *Topology) ConfigMapData(name string) (map[string]string, error) {
	for _, cm := range t.manifests.ConfigMaps {
		rest, ok := strings.CutPrefix(cm.Name, name)
		if ok && (rest == "" || hashSuffix.MatchString(rest)) {
			return maps.Clone(cm.Data), nil
		}
	}
	return nil, fmt.Errorf("prodlike: the overlay has no ConfigMap %s", name)
}

// Secret returns key of Secret name as the pods get it (made up on first
// use, docs/prodlike.md).
func (t *Topology) Secret(name, key string) (string, error) { return t.secrets.Get(name, key) }

// SetSecret sets key of Secret name, as `kubectl create secret … | kubectl
// apply` does: pods started afterwards mount or read the new value.
func (t *Topology) SetSecret(name, key, value string) { t.secrets.Set(name, key, value) }

// ApplyPodSpec changes the Deployment's pod template, as `kubectl apply`
// of an edited Deployment does; pods started afterwards run it. On the
// cluster the changed template starts the rollout; here call
// RollingRestart.
func (d *Deployment) ApplyPodSpec(edit func(*corev1.PodSpec)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	spec := d.spec.DeepCopy()
	edit(&spec.Spec.Template.Spec)
	d.spec = spec
}

// Scale sets the number of pods, as `kubectl scale` (or the HPA) does: new
// pods start and join the Service's balancer once ready (Scale returns
// when they have); surplus pods, the newest, terminate together as the
// kubelet stops them (out of the balancer, preStop, SIGTERM).
func (d *Deployment) Scale(ctx context.Context, replicas int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	if pods := d.Pods(); len(pods) > replicas {
		for _, p := range pods[replicas:] {
			wg.Go(func() {
				if err := d.terminate(p, true); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("terminate %s: %w", p.Name, err))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	var started []*Pod
	for n := len(d.Pods()); n < replicas; n++ {
		p, err := d.startPod()
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		started = append(started, p)
	}
	for _, p := range started {
		if err := d.waitReady(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Dump writes a backup of the application database to file in pg_dump's
// custom format, as the superuser: the local stand-in for a base backup
// of the Barman Cloud plugin (docs/operations.md, "Restore from backup"),
// consistent at one instant for every schema.
func (pg *Postgres) Dump(ctx context.Context, file string) error {
	out, err := exec.CommandContext(ctx, "pg_dump", "--format=custom", "--create", "--file="+file, pg.URL(pg.Database)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_dump %s: %w\n%s", pg.Database, err, out)
	}
	return nil
}

// Restore replaces the application database by the backup in file: the
// database is dropped (its sessions ended), then pg_restore creates it
// again as the backup has it (owner, grants, settings) and brings back
// every schema with its rows. Stop the pods that use the database first
// (Scale to 0), as the cluster's restore points new pods at a new cluster.
func (pg *Postgres) Restore(ctx context.Context, file string) error {
	if err := pg.exec(ctx, "postgres", "DROP DATABASE "+quoteIdent(pg.Database)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("restore: drop %s: %w", pg.Database, err)
	}
	out, err := exec.CommandContext(ctx, "pg_restore", "--create", "--exit-on-error", "--dbname="+pg.URL("postgres"), file).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_restore %s: %w\n%s", pg.Database, err, out)
	}
	return nil
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

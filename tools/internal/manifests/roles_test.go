package manifests

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// dbServices are the services with a schema of their own.
var dbServices = []string{"booking", "admin", "mailer", "exporter"}

// TestDatabaseRolesAreLeastPrivilege holds cluster.yaml's managed roles to
// the model of infra/postgres/bootstrap.sql: per service an owner login
// (<svc>), an app group (acube_<svc>_app) and an app login (<svc>_app,
// only its member), none of them able to create databases or roles, and
// the bootstrap SQL handed to CloudNativePG from a ConfigMap the
// kustomization renders under the name the Cluster uses. (The roles'
// actual rights on a server: tools/internal/stack's
// TestIntegrationBootstrapGivesNoDatabaseRights.)
func TestDatabaseRolesAreLeastPrivilege(t *testing.T) {
	pg := buildPostgres(t)
	c := pg.Clusters[0]
	roles := map[string]PGRole{}
	for _, r := range c.Spec.Managed.Roles {
		roles[r.Name] = r
		if r.Superuser || r.CreateDB || r.CreateRole || r.Replication || r.BypassRLS {
			t.Errorf("role %s may do more than use its schema: %+v", r.Name, r)
		}
		if r.Ensure != "present" {
			t.Errorf("role %s: ensure %q", r.Name, r.Ensure)
		}
	}
	var want []string
	for _, svc := range dbServices {
		owner, group, app := svc, "acube_"+svc+"_app", svc+"_app"
		want = append(want, owner, group, app)
		checks := []struct {
			role, secret string
			login        bool
			in           []string
		}{
			{role: owner, secret: "acube-pg-" + svc, login: true},
			{role: group},
			{role: app, secret: "acube-pg-" + svc + "-app", login: true, in: []string{group}},
		}
		for _, w := range checks {
			r, ok := roles[w.role]
			if !ok {
				t.Errorf("no managed role %s", w.role)
				continue
			}
			var secret string
			if r.PasswordSecret != nil {
				secret = r.PasswordSecret.Name
			}
			if r.Login != w.login || secret != w.secret || !slices.Equal(r.InRoles, w.in) {
				t.Errorf("role %s: login %t, password from %q, member of %v; want %t, %q, %v", w.role, r.Login, secret, r.InRoles, w.login, w.secret, w.in)
			}
		}
	}
	for name := range roles {
		if !slices.Contains(want, name) {
			t.Errorf("managed role %s is not part of the model", name)
		}
	}

	init := c.Spec.Bootstrap.InitDB
	if init == nil || init.Database != "acube" || init.PostInitApplicationSQLRefs == nil || len(init.PostInitApplicationSQLRefs.ConfigMapRefs) != 1 {
		t.Fatal("the Cluster's initdb does not run one bootstrap SQL ConfigMap in database acube")
	}
	ref := init.PostInitApplicationSQLRefs.ConfigMapRefs[0]
	sql, ok := pg.ConfigMaps[ref.Name][ref.Key]
	if !ok {
		t.Fatalf("ConfigMap %s with key %s is not rendered (a generated ConfigMap needs disableNameSuffixHash: the Cluster names it literally)", ref.Name, ref.Key)
	}
	for _, svc := range dbServices {
		if !strings.Contains(sql, "'"+svc+"'") {
			t.Errorf("the bootstrap SQL does not lay out service %s", svc)
		}
	}
}

// TestMigrationsRunInAnInitContainerAsTheOwner: every service with a
// schema migrates in an init container of its own image, as the schema's
// owner, straight to the primary; the app container logs in as the app
// role through the pooler and never sees the owner's credentials.
func TestMigrationsRunInAnInitContainerAsTheOwner(t *testing.T) {
	pg := buildPostgres(t)
	pooler := pg.Poolers[0].Metadata.Name + ".acube-infra.svc"
	primary := pg.Clusters[0].Metadata.Name + "-rw.acube-infra.svc"
	for overlay, objs := range overlays(t) {
		deps := deployments(objs)
		// Policies add up: a pod may go where any policy selecting it lets it.
		policies := map[string][]*networkingv1.NetworkPolicy{}
		for _, np := range Of[*networkingv1.NetworkPolicy](objs) {
			name := np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"]
			policies[name] = append(policies[name], np)
		}
		for _, svc := range services {
			t.Run(overlay+"/"+svc, func(t *testing.T) {
				pod := deps[svc].Spec.Template.Spec
				app := pod.Containers[0]
				if !slices.Contains(dbServices, svc) {
					if len(pod.InitContainers) != 0 {
						t.Errorf("%d init containers; %s has no schema", len(pod.InitContainers), svc)
					}
					return
				}
				if len(pod.InitContainers) != 1 {
					t.Fatalf("%d init containers, want the migrate step", len(pod.InitContainers))
				}
				mig := pod.InitContainers[0]
				if !slices.Equal(mig.Args, []string{"migrate"}) || mig.Image != app.Image || mig.ImagePullPolicy != app.ImagePullPolicy {
					t.Errorf("init container %s runs %s %v (pull %s); want %s migrate (pull %s)", mig.Name, mig.Image, mig.Args, mig.ImagePullPolicy, app.Image, app.ImagePullPolicy)
				}
				sc := mig.SecurityContext
				if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Error("the init container is not locked down as the app container is")
				}
				checkLogin(t, mig, "MIGRATE_DATABASE_URL", "MIGRATE_DB_PASSWORD", svc, "acube-pg-"+svc, primary)
				checkLogin(t, app, "DATABASE_URL", "DB_PASSWORD", svc+"_app", "acube-pg-"+svc+"-app", pooler)
				if !slices.ContainsFunc(policies[svc], reachesPrimary) {
					t.Error("no NetworkPolicy lets the pod reach the PostgreSQL primary (acube-infra, cnpg.io/instanceRole=primary, 5432) to migrate")
				}
				for _, e := range app.Env {
					if strings.HasPrefix(e.Name, "MIGRATE_") || (e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "acube-pg-"+svc) {
						t.Errorf("the app container holds the owner's %s", e.Name)
					}
				}
			})
		}
	}
}

// reachesPrimary reports whether np lets its pods reach the CloudNativePG
// primary on 5432.
func reachesPrimary(np *networkingv1.NetworkPolicy) bool {
	for _, rule := range np.Spec.Egress {
		port := slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port != nil && p.Port.IntValue() == 5432 })
		to := slices.ContainsFunc(rule.To, func(peer networkingv1.NetworkPolicyPeer) bool {
			return peer.NamespaceSelector != nil && peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "acube-infra" &&
				peer.PodSelector != nil && peer.PodSelector.MatchLabels["cnpg.io/instanceRole"] == "primary"
		})
		if port && to {
			return true
		}
	}
	return false
}

// checkLogin checks that c's urlVar logs in as role at host with the
// password of passVar, read from Secret secret.
func checkLogin(t *testing.T, c corev1.Container, urlVar, passVar, role, secret, host string) {
	t.Helper()
	u, ok := env(c, urlVar)
	if !ok {
		t.Errorf("%s: no %s", c.Name, urlVar)
		return
	}
	parsed, err := url.Parse(u.Value)
	if err != nil {
		t.Errorf("%s: %s: %v", c.Name, urlVar, err)
		return
	}
	pw, _ := parsed.User.Password()
	if parsed.User.Username() != role || pw != "$("+passVar+")" || parsed.Hostname() != host {
		t.Errorf("%s: %s logs in as %s at %s with %s; want %s at %s with $(%s)", c.Name, urlVar, parsed.User.Username(), parsed.Hostname(), pw, role, host, passVar)
	}
	p, ok := env(c, passVar)
	if !ok || p.ValueFrom == nil || p.ValueFrom.SecretKeyRef == nil || p.ValueFrom.SecretKeyRef.Name != secret || p.ValueFrom.SecretKeyRef.Key != "password" {
		t.Errorf("%s: %s is not the password of Secret %s", c.Name, passVar, secret)
	}
}

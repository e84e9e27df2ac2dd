package prodlike

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/acube/platform/tools/internal/manifests"
)

// Release names of the Helm charts, as docs/operations.md and
// deploy/k8s/infra/README.md install them: they name the Services and
// pods the manifests address (nats.acube-infra.svc,
// redis-ha-server-0.redis-ha.acube-infra.svc).
const (
	natsRelease  = "nats"
	redisRelease = "redis-ha"
	// infraNamespace is where deploy/k8s/infra runs.
	infraNamespace = "acube-infra"
)

// Manifests is what the topology is built from: the rendered prod overlay
// and the infrastructure's own descriptions in deploy/k8s/infra.
type Manifests struct {
	// Deployments, Services and ConfigMaps of the overlay, in render order.
	Deployments []*appsv1.Deployment
	Services    []*corev1.Service
	ConfigMaps  []*corev1.ConfigMap
	// Postgres is the CloudNativePG Cluster and what it references.
	Postgres PGManifest
	// Redis is the redis-ha chart's values.
	Redis RedisValues
	// NATS is the NATS chart's values.
	NATS NATSValues
}

// configMap returns the overlay's ConfigMap called name.
func (m *Manifests) configMap(name string) (*corev1.ConfigMap, bool) {
	i := slices.IndexFunc(m.ConfigMaps, func(c *corev1.ConfigMap) bool { return c.Name == name })
	if i < 0 {
		return nil, false
	}
	return m.ConfigMaps[i], true
}

// LoadManifests renders deploy/k8s/overlays/<overlay> under root with the
// Kustomize API (tools/internal/manifests) and reads deploy/k8s/infra.
func LoadManifests(root, overlay string) (*Manifests, error) {
	k8s := filepath.Join(root, "deploy", "k8s")
	objs, err := manifests.Build(filepath.Join(k8s, "overlays", overlay))
	if err != nil {
		return nil, err
	}
	m := &Manifests{
		Deployments: manifests.Of[*appsv1.Deployment](objs),
		Services:    manifests.Of[*corev1.Service](objs),
		ConfigMaps:  manifests.Of[*corev1.ConfigMap](objs),
	}
	if len(m.Deployments) == 0 {
		return nil, fmt.Errorf("overlay %s renders no Deployment", overlay)
	}
	if m.Postgres, err = loadPostgres(filepath.Join(k8s, "infra", "postgres")); err != nil {
		return nil, err
	}
	if err := readValues(filepath.Join(k8s, "infra", "redis", "values.yaml"), &m.Redis); err != nil {
		return nil, err
	}
	if err := readValues(filepath.Join(k8s, "infra", "nats", "values.yaml"), &m.NATS); err != nil {
		return nil, err
	}
	return m, nil
}

func readValues(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// RedisValues is the part of the redis-ha chart's values the topology
// runs: how many Redis pods (one primary, the rest replicas, each with a
// Sentinel), the master name, the Redis and Sentinel settings and whether
// both ask for a password.
type RedisValues struct {
	Replicas int  `json:"replicas"`
	Auth     bool `json:"auth"`
	Redis    struct {
		MasterGroupName string         `json:"masterGroupName"`
		Config          map[string]any `json:"config"`
	} `json:"redis"`
	Sentinel struct {
		Quorum int            `json:"quorum"`
		Auth   bool           `json:"auth"`
		Config map[string]any `json:"config"`
	} `json:"sentinel"`
}

// NATSValues is the part of the NATS chart's values the topology runs.
type NATSValues struct {
	Config struct {
		Nats struct {
			TLS chartTLS `json:"tls"`
		} `json:"nats"`
		Cluster struct {
			Enabled  bool     `json:"enabled"`
			Replicas int      `json:"replicas"`
			TLS      chartTLS `json:"tls"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool   `json:"enabled"`
				MaxSize string `json:"maxSize"`
			} `json:"fileStore"`
			MemoryStore struct {
				Enabled bool   `json:"enabled"`
				MaxSize string `json:"maxSize"`
			} `json:"memoryStore"`
		} `json:"jetstream"`
		// Merge goes into the server's configuration as it is (the
		// accounts block).
		Merge map[string]any `json:"merge"`
	} `json:"config"`
	Container struct {
		// Env maps a variable to its value, or to {valueFrom: ...}.
		Env map[string]any `json:"env"`
	} `json:"container"`
	NatsBox struct {
		Contexts map[string]struct {
			NKey struct {
				SecretName string `json:"secretName"`
				Key        string `json:"key"`
			} `json:"nkey"`
		} `json:"contexts"`
	} `json:"natsBox"`
}

// chartTLS is a tls block of the NATS chart's values.
type chartTLS struct {
	Enabled bool `json:"enabled"`
}

// PGManifest is the CloudNativePG Cluster of deploy/k8s/infra/postgres
// and the SQL its bootstrap references, resolved.
type PGManifest struct {
	Cluster PGCluster
	// Poolers are the names of the Pooler objects (each a Service of that
	// name in front of the primary).
	Poolers []string
	// Namespace is the kustomization's (acube-infra).
	Namespace string
	// PostInitSQL, PostInitTemplateSQL and PostInitApplicationSQL are the
	// bootstrap's statements, inline ones first and then those of the
	// referenced ConfigMaps and Secrets, in the order CloudNativePG runs
	// them (in postgres, template1 and the application database).
	PostInitSQL, PostInitTemplateSQL, PostInitApplicationSQL []string
}

// PGCluster is the part of a CloudNativePG Cluster the topology runs.
type PGCluster struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PostgreSQL struct {
			Parameters map[string]string `json:"parameters"`
		} `json:"postgresql"`
		Bootstrap struct {
			InitDB *PGInitDB `json:"initdb"`
		} `json:"bootstrap"`
		Managed struct {
			Roles []PGRole `json:"roles"`
		} `json:"managed"`
	} `json:"spec"`
}

// PGInitDB is spec.bootstrap.initdb.
type PGInitDB struct {
	Database string `json:"database"`
	Owner    string `json:"owner"`
	Secret   *struct {
		Name string `json:"name"`
	} `json:"secret"`
	PostInitSQL                []string `json:"postInitSQL"`
	PostInitTemplateSQL        []string `json:"postInitTemplateSQL"`
	PostInitApplicationSQL     []string `json:"postInitApplicationSQL"`
	PostInitSQLRefs            *SQLRefs `json:"postInitSQLRefs"`
	PostInitTemplateSQLRefs    *SQLRefs `json:"postInitTemplateSQLRefs"`
	PostInitApplicationSQLRefs *SQLRefs `json:"postInitApplicationSQLRefs"`
}

// SQLRefs points at ConfigMap and Secret keys holding SQL.
type SQLRefs struct {
	ConfigMapRefs []KeyRef `json:"configMapRefs"`
	SecretRefs    []KeyRef `json:"secretRefs"`
}

// KeyRef is one key of a ConfigMap or Secret.
type KeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// PGRole is one entry of spec.managed.roles.
type PGRole struct {
	Name            string   `json:"name"`
	Ensure          string   `json:"ensure"`
	Login           bool     `json:"login"`
	Superuser       bool     `json:"superuser"`
	CreateDB        bool     `json:"createdb"`
	CreateRole      bool     `json:"createrole"`
	Replication     bool     `json:"replication"`
	BypassRLS       bool     `json:"bypassrls"`
	Inherit         *bool    `json:"inherit"`
	ConnectionLimit *int     `json:"connectionLimit"`
	InRoles         []string `json:"inRoles"`
	PasswordSecret  *struct {
		Name string `json:"name"`
	} `json:"passwordSecret"`
	DisablePassword bool `json:"disablePassword"`
}

// loadPostgres renders the CloudNativePG kustomization at dir and resolves
// the SQL its Cluster's bootstrap references. A reference to a ConfigMap
// the kustomization does not render (say, a generated one whose name got a
// hash suffix the Cluster does not know) is an error: CloudNativePG would
// not find it either.
func loadPostgres(dir string) (PGManifest, error) {
	var pg PGManifest
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return pg, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	cms := map[string]*corev1.ConfigMap{}
	var clusters []PGCluster
	for _, r := range res.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			return pg, fmt.Errorf("render %s/%s: %w", r.GetKind(), r.GetName(), err)
		}
		switch r.GetApiVersion() + "/" + r.GetKind() {
		case "postgresql.cnpg.io/v1/Cluster":
			var c PGCluster
			if err := yaml.Unmarshal(raw, &c); err != nil {
				return pg, fmt.Errorf("decode Cluster %s: %w", r.GetName(), err)
			}
			clusters = append(clusters, c)
			pg.Namespace = r.GetNamespace()
		case "postgresql.cnpg.io/v1/Pooler":
			pg.Poolers = append(pg.Poolers, r.GetName())
		case "v1/ConfigMap":
			var cm corev1.ConfigMap
			if err := yaml.Unmarshal(raw, &cm); err != nil {
				return pg, fmt.Errorf("decode ConfigMap %s: %w", r.GetName(), err)
			}
			cms[cm.Name] = &cm
		}
	}
	if len(clusters) != 1 {
		return pg, fmt.Errorf("%s: want one CloudNativePG Cluster, found %d", dir, len(clusters))
	}
	pg.Cluster = clusters[0]
	if pg.Namespace == "" {
		pg.Namespace = infraNamespace
	}
	init := pg.Cluster.Spec.Bootstrap.InitDB
	if init == nil {
		return pg, fmt.Errorf("cluster %s: no spec.bootstrap.initdb", pg.Cluster.Metadata.Name)
	}
	resolve := func(inline []string, refs *SQLRefs) ([]string, error) {
		out := slices.Clone(inline)
		if refs == nil {
			return out, nil
		}
		if len(refs.SecretRefs) > 0 {
			ref := refs.SecretRefs[0]
			return nil, fmt.Errorf("cluster %s: SQL in Secret %s/%s: Secrets are not in the repository", pg.Cluster.Metadata.Name, ref.Name, ref.Key)
		}
		for _, ref := range refs.ConfigMapRefs {
			cm, ok := cms[ref.Name]
			if !ok {
				return nil, fmt.Errorf("cluster %s: SQL ConfigMap %q is not rendered by %s (a generated ConfigMap needs disableNameSuffixHash for a custom resource to find it)",
					pg.Cluster.Metadata.Name, ref.Name, dir)
			}
			sql, ok := cm.Data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("cluster %s: ConfigMap %s has no key %q", pg.Cluster.Metadata.Name, ref.Name, ref.Key)
			}
			out = append(out, sql)
		}
		return out, nil
	}
	if pg.PostInitSQL, err = resolve(init.PostInitSQL, init.PostInitSQLRefs); err != nil {
		return pg, err
	}
	if pg.PostInitTemplateSQL, err = resolve(init.PostInitTemplateSQL, init.PostInitTemplateSQLRefs); err != nil {
		return pg, err
	}
	if pg.PostInitApplicationSQL, err = resolve(init.PostInitApplicationSQL, init.PostInitApplicationSQLRefs); err != nil {
		return pg, err
	}
	return pg, nil
}

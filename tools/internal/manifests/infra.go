package manifests

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The infrastructure in deploy/k8s/infra is CloudNativePG custom resources
// and Helm values; their Go types live in the operators' own modules, far
// heavier than the checks need, so the fields the checks read are declared
// here and everything else is ignored.

// PGCluster is the part of a CloudNativePG Cluster the checks read.
type PGCluster struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Instances  int    `json:"instances"`
		ImageName  string `json:"imageName"`
		PostgreSQL struct {
			Parameters  map[string]string `json:"parameters"`
			Synchronous *struct {
				Method         string `json:"method"`
				Number         int    `json:"number"`
				DataDurability string `json:"dataDurability"`
			} `json:"synchronous"`
		} `json:"postgresql"`
		Bootstrap struct {
			InitDB *struct {
				Database                   string `json:"database"`
				Owner                      string `json:"owner"`
				PostInitApplicationSQLRefs *struct {
					ConfigMapRefs []struct {
						Name string `json:"name"`
						Key  string `json:"key"`
					} `json:"configMapRefs"`
				} `json:"postInitApplicationSQLRefs"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		Managed struct {
			Roles []PGRole `json:"roles"`
		} `json:"managed"`
		Backup  map[string]any `json:"backup"`
		Plugins []struct {
			Name          string            `json:"name"`
			IsWALArchiver bool              `json:"isWALArchiver"`
			Parameters    map[string]string `json:"parameters"`
		} `json:"plugins"`
	} `json:"spec"`
}

// PGRole is one of a Cluster's spec.managed.roles.
type PGRole struct {
	Name           string   `json:"name"`
	Ensure         string   `json:"ensure"`
	Login          bool     `json:"login"`
	Superuser      bool     `json:"superuser"`
	CreateDB       bool     `json:"createdb"`
	CreateRole     bool     `json:"createrole"`
	Replication    bool     `json:"replication"`
	BypassRLS      bool     `json:"bypassrls"`
	InRoles        []string `json:"inRoles"`
	PasswordSecret *struct {
		Name string `json:"name"`
	} `json:"passwordSecret"`
}

// PGPooler is the part of a CloudNativePG Pooler the checks read.
type PGPooler struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Cluster struct {
			Name string `json:"name"`
		} `json:"cluster"`
		Instances int    `json:"instances"`
		Type      string `json:"type"`
		PgBouncer struct {
			PoolMode   string            `json:"poolMode"`
			Image      string            `json:"image"`
			Parameters map[string]string `json:"parameters"`
		} `json:"pgbouncer"`
	} `json:"spec"`
}

// Postgres is what deploy/k8s/infra/postgres renders to.
type Postgres struct {
	Clusters []PGCluster
	Poolers  []PGPooler
	// ConfigMaps are the rendered ConfigMaps' data, by name.
	ConfigMaps map[string]map[string]string
	// Kinds counts the rendered objects by apiVersion/kind.
	Kinds map[string]int
}

// BuildPostgres renders the CloudNativePG kustomization at dir.
func BuildPostgres(dir string) (*Postgres, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	pg := &Postgres{Kinds: map[string]int{}, ConfigMaps: map[string]map[string]string{}}
	for _, r := range m.Resources() {
		raw, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", r.GetKind(), r.GetName(), err)
		}
		pg.Kinds[r.GetApiVersion()+"/"+r.GetKind()]++
		switch r.GetApiVersion() + "/" + r.GetKind() {
		case "postgresql.cnpg.io/v1/Cluster":
			var c PGCluster
			if err := yaml.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("decode Cluster %s: %w", r.GetName(), err)
			}
			pg.Clusters = append(pg.Clusters, c)
		case "v1/ConfigMap":
			var cm struct {
				Data map[string]string `json:"data"`
			}
			if err := yaml.Unmarshal(raw, &cm); err != nil {
				return nil, fmt.Errorf("decode ConfigMap %s: %w", r.GetName(), err)
			}
			pg.ConfigMaps[r.GetName()] = cm.Data
		case "postgresql.cnpg.io/v1/Pooler":
			var p PGPooler
			if err := yaml.Unmarshal(raw, &p); err != nil {
				return nil, fmt.Errorf("decode Pooler %s: %w", r.GetName(), err)
			}
			pg.Poolers = append(pg.Poolers, p)
		}
	}
	return pg, nil
}

// Resources is a container's requests and limits as Helm values write them.
type Resources struct {
	Requests map[string]string `json:"requests"`
	Limits   map[string]string `json:"limits"`
}

// RedisValues is the part of the redis-ha chart's values the checks read.
type RedisValues struct {
	Image struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"image"`
	Replicas         int               `json:"replicas"`
	HardAntiAffinity bool              `json:"hardAntiAffinity"`
	ExtraLabels      map[string]string `json:"extraLabels"`
	Auth             bool              `json:"auth"`
	Redis            struct {
		MasterGroupName string         `json:"masterGroupName"`
		Config          map[string]any `json:"config"`
		Resources       Resources      `json:"resources"`
	} `json:"redis"`
	Sentinel struct {
		Quorum    int       `json:"quorum"`
		Auth      bool      `json:"auth"`
		Resources Resources `json:"resources"`
	} `json:"sentinel"`
}

// ReadRedisValues reads the redis-ha chart's values file at path.
func ReadRedisValues(path string) (*RedisValues, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read redis values: %w", err)
	}
	var v RedisValues
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode redis values %s: %w", path, err)
	}
	return &v, nil
}

package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	networkingv1 "k8s.io/api/networking/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// TLSValues is a `tls` block of the NATS chart's values.
type TLSValues struct {
	Enabled    bool   `json:"enabled"`
	SecretName string `json:"secretName"`
}

// NATSValues is the part of the official NATS chart's values the checks
// read (deploy/k8s/infra/nats/values.yaml).
type NATSValues struct {
	Config struct {
		Nats struct {
			TLS TLSValues `json:"tls"`
		} `json:"nats"`
		Cluster struct {
			Enabled bool      `json:"enabled"`
			TLS     TLSValues `json:"tls"`
		} `json:"cluster"`
		// Merge is merged into the server's configuration as it is: the
		// accounts block.
		Merge map[string]any `json:"merge"`
	} `json:"config"`
	TLSCA struct {
		Enabled    bool   `json:"enabled"`
		SecretName string `json:"secretName"`
		Key        string `json:"key"`
	} `json:"tlsCA"`
	Container struct {
		// Env maps a variable to its value, or to a map holding its
		// valueFrom, as the chart takes it.
		Env map[string]any `json:"env"`
	} `json:"container"`
	NatsBox struct {
		Enabled  bool `json:"enabled"`
		Contexts map[string]struct {
			NKey struct {
				SecretName string `json:"secretName"`
				Key        string `json:"key"`
			} `json:"nkey"`
		} `json:"contexts"`
	} `json:"natsBox"`
}

// ReadNATSValues reads the NATS chart's values file at path.
func ReadNATSValues(path string) (*NATSValues, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read nats values: %w", err)
	}
	var v NATSValues
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode nats values %s: %w", path, err)
	}
	return &v, nil
}

// ReadNetworkPolicies decodes a multi-document YAML file of
// NetworkPolicies strictly (deploy/k8s/infra/networkpolicies.yaml, which
// `kubectl apply -f` installs into acube-infra).
func ReadNetworkPolicies(path string) ([]*networkingv1.NetworkPolicy, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read network policies: %w", err)
	}
	var out []*networkingv1.NetworkPolicy
	dec := k8syaml.NewDocumentDecoder(io.NopCloser(bytes.NewReader(raw)))
	defer dec.Close()
	buf := make([]byte, len(raw)+1)
	for {
		n, err := dec.Read(buf)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split %s: %w", path, err)
		}
		doc := bytes.TrimSpace(buf[:n])
		if len(doc) == 0 || isComment(doc) {
			continue
		}
		var p networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict(doc, &p); err != nil {
			return nil, fmt.Errorf("decode a NetworkPolicy of %s: %w", path, err)
		}
		if p.Kind != "NetworkPolicy" {
			return nil, fmt.Errorf("%s holds a %s; only NetworkPolicies belong there", path, p.Kind)
		}
		out = append(out, &p)
	}
}

// isComment reports whether a YAML document holds only comments.
func isComment(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

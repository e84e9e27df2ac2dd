package config

import (
	"fmt"

	"github.com/acube/platform/libs/clientip"
)

// Clients is the resolver of client addresses over proxies, a service's
// list of trusted proxies read from the variable env (libs/clientip: CIDRs
// or single addresses); an error names env.
func Clients(env string, proxies []string) (*clientip.Resolver, error) {
	r, err := clientip.New(clientip.Config{TrustedProxies: proxies})
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", env, err)
	}
	return r, nil
}

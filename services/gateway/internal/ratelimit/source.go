package ratelimit

import (
	"fmt"
	"os"
)

// Source is where a table comes from: a file (the ConfigMap) or the
// built-in defaults, with the environment's overrides on top.
type Source struct {
	// Path is the table file; empty uses Default.
	Path string
	// Default is the built-in table.
	Default []byte
	// Overrides are the environment's changes.
	Overrides Overrides
	// RouteKeys are the routes the gateway serves.
	RouteKeys []string
}

// Load reads and builds the table.
func (s Source) Load() (*Table, error) {
	data := s.Default
	if s.Path != "" {
		var err error
		if data, err = os.ReadFile(s.Path); err != nil {
			return nil, fmt.Errorf("read rate-limit table: %w", err)
		}
	}
	return Load(data, s.Overrides, s.RouteKeys)
}

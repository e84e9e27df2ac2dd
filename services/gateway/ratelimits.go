// Package gateway holds the gateway's built-in files; the code lives in
// cmd/gateway and internal/.
package gateway

import _ "embed"

//go:embed ratelimits.yaml
var defaultRateLimits string

// DefaultRateLimits returns the built-in rate-limit table (the seed's
// numbers), used when RATELIMIT_CONFIG names no file.
func DefaultRateLimits() []byte { return []byte(defaultRateLimits) }

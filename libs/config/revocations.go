package config

import (
	"fmt"
	"time"
)

// Revocations configures the refusal of revoked admin access tokens
// (libs/authn.Revocations, fed by the admin.sessions.revoked events), for
// every service that verifies them.
type Revocations struct {
	AccessTTLMax time.Duration `env:"ADMIN_ACCESS_TTL_MAX" default:"15m" doc:"the longest an admin access token lives: at least the admin service's ADMIN_ACCESS_TTL (which it caps at 15m); a revocation is remembered this long and a token that lives longer is refused"`
}

// Validate reports the settings of r that cannot work.
func (r Revocations) Validate() error {
	if r.AccessTTLMax < time.Minute || r.AccessTTLMax > 24*time.Hour {
		return fmt.Errorf("config: ADMIN_ACCESS_TTL_MAX=%s must be in [1m, 24h]", r.AccessTTLMax)
	}
	return nil
}

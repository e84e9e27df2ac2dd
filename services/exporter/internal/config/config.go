// Package config is the exporter's configuration, read once from the
// environment.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/acube/platform/libs/clientip"
	libconfig "github.com/acube/platform/libs/config"
)

// Config is every setting of the exporter service.
type Config struct {
	// Backbone is what every service reads: database, NATS, stream
	// replicas, log level and shutdown grace.
	libconfig.Backbone
	// Admin says how admin access tokens are verified.
	Admin libconfig.AdminTokens
	// Revocations says how long revoked admin sessions are remembered.
	Revocations libconfig.Revocations

	Addr           string        `env:"EXPORTER_ADDR" default:":8104" doc:"HTTP listen address"`
	TrustedProxies []string      `env:"EXPORTER_TRUSTED_PROXIES" default:"127.0.0.0/8,::1/128" doc:"comma-separated CIDRs or addresses whose X-Forwarded-For is believed (the gateway), for the client address of audit records"`
	DBMaxConns     int32         `env:"EXPORTER_DB_MAX_CONNS" default:"8" doc:"connection pool size"`
	ExportTTL      time.Duration `env:"EXPORT_TTL" default:"168h" doc:"how long a finished export can be downloaded before it is purged; its file lives in the EXPORTS bucket of JetStream's Object Store, which keeps files a day longer at most"`
	ExportWorkers  int           `env:"EXPORT_WORKERS" default:"1" doc:"exports run at once by this process"`
	ExportLease    time.Duration `env:"EXPORT_LEASE" default:"1m" doc:"how long a running export stays claimed without a heartbeat; a crashed worker's export restarts after it"`
	ExportAttempts int           `env:"EXPORT_MAX_ATTEMPTS" default:"3" doc:"interrupted or failed runs before an export is marked failed"`
	ExportPoll     time.Duration `env:"EXPORT_POLL" default:"2s" doc:"how often an idle worker looks for queued exports"`
	PurgeInterval  time.Duration `env:"EXPORT_PURGE_INTERVAL" default:"10m" doc:"how often expired export files are deleted"`
	PublicBaseURL  string        `env:"PUBLIC_BASE_URL" default:"http://localhost:8001" doc:"public origin of the API (the gateway), for links in responses and emails"`
}

// Load reads the configuration and checks it.
func Load(lookup libconfig.LookupEnv) (Config, error) {
	return libconfig.LoadChecked[Config](lookup)
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	errs := []error{c.Backbone.Validate(), c.Admin.Validate(), c.Revocations.Validate()}
	if c.ExportTTL <= 0 {
		errs = append(errs, errors.New("config: EXPORT_TTL must be positive"))
	}
	if c.ExportWorkers < 1 {
		errs = append(errs, errors.New("config: EXPORT_WORKERS must be at least 1"))
	}
	if c.ExportLease < 3*time.Second {
		errs = append(errs, errors.New("config: EXPORT_LEASE must be at least 3s"))
	}
	if c.ExportAttempts < 1 {
		errs = append(errs, errors.New("config: EXPORT_MAX_ATTEMPTS must be at least 1"))
	}
	if c.ExportPoll <= 0 || c.PurgeInterval <= 0 {
		errs = append(errs, errors.New("config: EXPORT_POLL and EXPORT_PURGE_INTERVAL must be positive"))
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, fmt.Errorf("config: PUBLIC_BASE_URL=%q must be an absolute URL", c.PublicBaseURL))
	}
	if _, err := c.Clients(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Clients is the resolver of client addresses over TrustedProxies
// (libs/clientip: CIDRs or single addresses).
func (c Config) Clients() (*clientip.Resolver, error) {
	return libconfig.Clients("EXPORTER_TRUSTED_PROXIES", c.TrustedProxies)
}

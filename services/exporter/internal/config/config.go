// Package config is the exporter's configuration, read once from the
// environment.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	libconfig "github.com/acube/platform/libs/config"
)

// Config is every setting of the exporter service.
type Config struct {
	// Backbone is what every service reads: database, NATS, stream
	// replicas, log level and shutdown grace.
	libconfig.Backbone
	// Admin says how admin access tokens are verified.
	Admin libconfig.AdminTokens

	Addr           string        `env:"EXPORTER_ADDR" default:":8104" doc:"HTTP listen address"`
	DBMaxConns     int32         `env:"EXPORTER_DB_MAX_CONNS" default:"8" doc:"connection pool size"`
	ExportDir      string        `env:"EXPORT_DIR" default:".data/exports" doc:"directory the export files are written to; created if missing"`
	ExportTTL      time.Duration `env:"EXPORT_TTL" default:"168h" doc:"how long a finished export can be downloaded before it is purged"`
	ExportWorkers  int           `env:"EXPORT_WORKERS" default:"1" doc:"exports run at once by this process"`
	ExportLease    time.Duration `env:"EXPORT_LEASE" default:"1m" doc:"how long a running export stays claimed without a heartbeat; a crashed worker's export restarts after it"`
	ExportAttempts int           `env:"EXPORT_MAX_ATTEMPTS" default:"3" doc:"interrupted or failed runs before an export is marked failed"`
	ExportPoll     time.Duration `env:"EXPORT_POLL" default:"2s" doc:"how often an idle worker looks for queued exports"`
	PurgeInterval  time.Duration `env:"EXPORT_PURGE_INTERVAL" default:"10m" doc:"how often expired export files are deleted"`
	PublicBaseURL  string        `env:"PUBLIC_BASE_URL" default:"http://localhost:8001" doc:"public origin of the API (the gateway), for links in responses and emails"`
}

// Load reads the configuration and checks it.
func Load(lookup libconfig.LookupEnv) (Config, error) {
	var c Config
	if err := libconfig.Load(lookup, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	errs := []error{c.Backbone.Validate(), c.Admin.Validate()}
	if c.ExportDir == "" {
		errs = append(errs, errors.New("config: EXPORT_DIR must not be empty"))
	}
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
	return errors.Join(errs...)
}

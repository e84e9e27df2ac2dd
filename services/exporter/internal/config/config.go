// Package config is the exporter's configuration, read once from the
// environment.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	libconfig "github.com/acube/platform/libs/config"
)

// Config is every setting of the exporter service.
type Config struct {
	Addr           string        `env:"EXPORTER_ADDR" default:":8104" doc:"HTTP listen address"`
	DatabaseURL    string        `env:"DATABASE_URL" default:"postgres://postgres@127.0.0.1:5432/acube?sslmode=disable" secret:"true" doc:"PostgreSQL URL; the database is created if missing"`
	DBMaxConns     int32         `env:"EXPORTER_DB_MAX_CONNS" default:"8" doc:"connection pool size"`
	NATSURL        string        `env:"NATS_URL" default:"nats://127.0.0.1:4222" doc:"NATS server with JetStream"`
	StreamReplicas int           `env:"STREAM_REPLICAS" default:"1" doc:"JetStream replicas of the streams this service declares"`
	ExportDir      string        `env:"EXPORT_DIR" default:".data/exports" doc:"directory the export files are written to; created if missing"`
	ExportTTL      time.Duration `env:"EXPORT_TTL" default:"168h" doc:"how long a finished export can be downloaded before it is purged"`
	ExportWorkers  int           `env:"EXPORT_WORKERS" default:"1" doc:"exports run at once by this process"`
	ExportLease    time.Duration `env:"EXPORT_LEASE" default:"1m" doc:"how long a running export stays claimed without a heartbeat; a crashed worker's export restarts after it"`
	ExportAttempts int           `env:"EXPORT_MAX_ATTEMPTS" default:"3" doc:"interrupted or failed runs before an export is marked failed"`
	ExportPoll     time.Duration `env:"EXPORT_POLL" default:"2s" doc:"how often an idle worker looks for queued exports"`
	PurgeInterval  time.Duration `env:"EXPORT_PURGE_INTERVAL" default:"10m" doc:"how often expired export files are deleted"`
	PublicBaseURL  string        `env:"PUBLIC_BASE_URL" default:"http://localhost:8001" doc:"public origin of the API (the gateway), for links in responses and emails"`
	AdminURL       string        `env:"ADMIN_URL" default:"http://127.0.0.1:8102" doc:"admin service base URL; the JWKS is fetched from it unless ADMIN_JWKS_URL is set"`
	AdminJWKSURL   string        `env:"ADMIN_JWKS_URL" doc:"admin public keys (JWKS); default ADMIN_URL + /api/admin/auth/jwks.json"`
	TokenIssuer    string        `env:"ADMIN_TOKEN_ISSUER" default:"acube-admin" doc:"required iss of admin access tokens"`
	TokenAudience  string        `env:"ADMIN_TOKEN_AUDIENCE" default:"acube" doc:"required aud of admin access tokens"`
	LogLevel       string        `env:"LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	ShutdownGrace  time.Duration `env:"SHUTDOWN_GRACE" default:"20s" doc:"how long in-flight requests may finish on SIGTERM"`
}

// Load reads the configuration and checks it.
func Load(getenv libconfig.Getenv) (Config, error) {
	var c Config
	if err := libconfig.Load(getenv, &c); err != nil {
		return Config{}, err
	}
	if c.AdminJWKSURL == "" {
		c.AdminJWKSURL = strings.TrimRight(c.AdminURL, "/") + "/api/admin/auth/jwks.json"
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
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

// Package config is booking's configuration, read once from the environment.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/acube/platform/libs/clientip"
	libconfig "github.com/acube/platform/libs/config"
)

// Config is every setting of the booking service.
type Config struct {
	// Backbone is what every service reads: database, NATS, stream
	// replicas, log level and shutdown grace.
	libconfig.Backbone

	Addr           string        `env:"BOOKING_ADDR" default:":8101" doc:"HTTP listen address"`
	DBMaxConns     int32         `env:"BOOKING_DB_MAX_CONNS" default:"16" doc:"connection pool size"`
	TrustedProxies []string      `env:"BOOKING_TRUSTED_PROXIES" default:"127.0.0.0/8,::1/128" doc:"comma-separated CIDRs or addresses whose X-Forwarded-For is believed (the gateway)"`
	DataDir        string        `env:"BOOKING_DATA_DIR" default:".data/booking" doc:"where a generated development link secret is kept (unused when BOOKING_LINK_SECRET is set)"`
	PublicBaseURL  string        `env:"PUBLIC_BASE_URL" default:"http://localhost:8001" doc:"public address of the gateway, for links in emails"`
	IdempotencyTTL time.Duration `env:"BOOKING_IDEMPOTENCY_TTL" default:"24h" doc:"how long an Idempotency-Key of a booking is remembered; older keys count as new and are purged hourly"`

	Links  Links
	Admin  libconfig.AdminTokens
	Images Images
	Jobs   Jobs

	// Revocations says how long revoked admin sessions are remembered.
	Revocations libconfig.Revocations
}

// Links configures the manage links sent to bookers and registrants.
type Links struct {
	Secret       string        `env:"BOOKING_LINK_SECRET" secret:"true" doc:"HMAC key of manage links, at least 32 bytes; empty generates one under BOOKING_DATA_DIR"`
	TTL          time.Duration `env:"BOOKING_LINK_TTL" default:"168h" doc:"how long a manage link works after the session day or the event's end"`
	CancelNotice time.Duration `env:"BOOKING_CANCEL_NOTICE" default:"24h" doc:"a booker may cancel through the link until this long before the session day"`
}

// Images configures event cover images. They are kept in the IMAGES
// bucket of JetStream's Object Store (stream.EventImages), which every
// replica reaches; there is no directory to configure.
type Images struct {
	MaxBytes int64 `env:"BOOKING_IMAGE_MAX_BYTES" default:"5242880" doc:"largest accepted event image"`
}

// Jobs configures the bulk-job executor.
type Jobs struct {
	ChunkSize int `env:"BOOKING_JOB_CHUNK_SIZE" default:"100" doc:"ids applied per transaction (and per progress event) of a bulk job, at most 500"`
}

// Load reads and checks the configuration.
func Load(lookup libconfig.LookupEnv) (Config, error) {
	var c Config
	if err := libconfig.Load(lookup, &c); err != nil {
		return Config{}, err
	}
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	return c, c.Validate()
}

// Validate reports every setting that is out of bounds.
func (c Config) Validate() error {
	errs := []error{c.Backbone.Validate(), c.Admin.Validate(), c.Revocations.Validate()}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("config: PUBLIC_BASE_URL=%q must be an absolute http(s) URL", c.PublicBaseURL))
	}
	if c.Links.Secret != "" && len(c.Links.Secret) < 32 {
		errs = append(errs, errors.New("config: BOOKING_LINK_SECRET must be at least 32 bytes"))
	}
	if c.IdempotencyTTL < time.Minute {
		errs = append(errs, errors.New("config: BOOKING_IDEMPOTENCY_TTL must be at least 1m"))
	}
	if c.Links.TTL <= 0 || c.Links.CancelNotice < 0 {
		errs = append(errs, errors.New("config: BOOKING_LINK_TTL must be positive and BOOKING_CANCEL_NOTICE not negative"))
	}
	if c.Images.MaxBytes < 1 || c.Jobs.ChunkSize < 1 || c.Jobs.ChunkSize > 500 {
		errs = append(errs, errors.New("config: BOOKING_IMAGE_MAX_BYTES must be at least 1 and BOOKING_JOB_CHUNK_SIZE in [1, 500]"))
	}
	if _, err := c.Clients(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Clients is the resolver of client addresses over TrustedProxies
// (libs/clientip: CIDRs or single addresses).
func (c Config) Clients() (*clientip.Resolver, error) {
	return libconfig.Clients("BOOKING_TRUSTED_PROXIES", c.TrustedProxies)
}

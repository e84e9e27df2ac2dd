package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Base is what every process reads under the same names. Each service's
// Config embeds it (through Backbone where the service has a database and
// events), so LOG_LEVEL and SHUTDOWN_GRACE mean one thing everywhere and
// the deploy manifests set them once (deploy/k8s/base/config.yaml).
type Base struct {
	LogLevel      string        `env:"LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE" default:"20s" doc:"bound on the whole shutdown after SIGTERM: in-flight requests, messages in hand, the outbox relay and the NATS drain all finish inside it"`
}

// Validate reports the settings of b that cannot work.
func (b Base) Validate() error {
	var errs []error
	switch strings.ToLower(b.LogLevel) {
	case "", "debug", "info", "warn", "error": // empty is info, as in libs/logging
	default:
		errs = append(errs, fmt.Errorf("config: LOG_LEVEL=%q: want debug, info, warn or error", b.LogLevel))
	}
	if b.ShutdownGrace <= 0 {
		errs = append(errs, fmt.Errorf("config: SHUTDOWN_GRACE=%s: must be positive", b.ShutdownGrace))
	}
	return errors.Join(errs...)
}

// Backbone is Base plus what every service that stores data and exchanges
// events reads: PostgreSQL, NATS and the replicas of the streams it
// declares. Booking, admin, mailer and exporter embed it.
type Backbone struct {
	Base
	DatabaseURL    string `env:"DATABASE_URL" default:"postgres://postgres@127.0.0.1:5432/acube?sslmode=disable" secret:"true" doc:"PostgreSQL URL the service serves with: its app role, which may only use the tables of its schema; the schema must be migrated first ('<service> migrate')"`
	NATSURL        string `env:"NATS_URL" default:"nats://127.0.0.1:4222" secret:"true" doc:"NATS servers with JetStream, comma-separated; tls:// for TLS; while they are down the service serves HTTP and its events wait in the outbox. The identity belongs in NATS_NKEY_FILE; a password in the URL is masked in logs, a bare token is refused"`
	NATSNKeyFile   string `env:"NATS_NKEY_FILE" doc:"file holding the service's NKey seed, its NATS identity (mounted from a Secret); empty connects without one, to a server without authentication"`
	NATSCAFile     string `env:"NATS_CA_FILE" doc:"PEM file of the authority that signed the NATS servers' certificates; set, the connection uses TLS and verifies the server against it"`
	StreamReplicas int    `env:"STREAM_REPLICAS" default:"1" doc:"JetStream replicas of the streams this service declares (1 locally, 3 on the production cluster)"`
}

// Validate reports the settings of b that cannot work.
func (b Backbone) Validate() error {
	errs := []error{b.Base.Validate()}
	if b.DatabaseURL == "" {
		errs = append(errs, errors.New("config: DATABASE_URL must not be empty"))
	}
	if b.NATSURL == "" {
		errs = append(errs, errors.New("config: NATS_URL must not be empty"))
	}
	if err := natsURLs(b.NATSURL); err != nil {
		errs = append(errs, err)
	}
	if b.StreamReplicas < 1 || b.StreamReplicas > 5 {
		errs = append(errs, fmt.Errorf("config: STREAM_REPLICAS=%d: must be 1 to 5", b.StreamReplicas))
	}
	return errors.Join(errs...)
}

// natsURLs refuses a NATS_URL entry that carries a token (a user name
// without a password): nothing tells it from a user name, so it would be
// logged in clear. Errors name the entry's position, never its text.
func natsURLs(list string) error {
	for i, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if !strings.Contains(raw, "://") {
			raw = "nats://" + raw // as the client reads host:port
		}
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("config: NATS_URL entry %d is not a URL", i+1)
		}
		if u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); !ok {
			return fmt.Errorf("config: NATS_URL entry %d carries a token; give the service an identity with NATS_NKEY_FILE", i+1)
		}
	}
	return nil
}

// AdminTokens says how a service verifies the admin service's access
// tokens: the keys from its JWKS, the issuer and the audience.
type AdminTokens struct {
	URL      string `env:"ADMIN_URL" default:"http://127.0.0.1:8102" doc:"admin service base URL; the JWKS is fetched from it unless ADMIN_JWKS_URL is set"`
	JWKSURL  string `env:"ADMIN_JWKS_URL" doc:"admin public keys (JWKS); empty means ADMIN_URL + /api/admin/auth/jwks.json"`
	Issuer   string `env:"ADMIN_TOKEN_ISSUER" default:"acube-admin" doc:"iss of admin access tokens"`
	Audience string `env:"ADMIN_TOKEN_AUDIENCE" default:"acube" doc:"aud of admin access tokens"`
}

// KeysURL is where the admin's public keys are fetched: JWKSURL, or the
// admin service's own JWKS path.
func (a AdminTokens) KeysURL() string {
	if a.JWKSURL != "" {
		return a.JWKSURL
	}
	return strings.TrimRight(a.URL, "/") + "/api/admin/auth/jwks.json"
}

// Validate reports the settings of a that cannot work.
func (a AdminTokens) Validate() error {
	if a.Issuer == "" || a.Audience == "" {
		return errors.New("config: ADMIN_TOKEN_ISSUER and ADMIN_TOKEN_AUDIENCE must not be empty")
	}
	return nil
}

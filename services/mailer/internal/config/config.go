// Package config is the mailer's configuration, read once from the
// environment.
package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/managelink"
)

// TLS modes of the SMTP connection.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// streams is how many streams the mailer consumes, each with
// MAILER_CONCURRENCY handlers of up to MAILER_BATCH_SIZE events.
const streams = 3

// maxRateWait bounds how long a handler may wait for the rate limiter;
// it stays well inside the consumer's 30 s handling budget.
const maxRateWait = 20 * time.Second

// maxBatch bounds MAILER_BATCH_SIZE: a batch's emails share one
// transaction and one time budget.
const maxBatch = 256

// minRetention bounds MAILER_DELIVERY_RETENTION from below: the record of
// an email must outlive every delivery of its event, and the streams keep
// an event 7 days (libs/stream), plus a day of margin.
const minRetention = 8 * 24 * time.Hour

// Config is every setting of the mailer service.
type Config struct {
	// Backbone is what every service reads: database, NATS, stream
	// replicas (of DEADLETTER, which the mailer declares as a consumer),
	// log level and shutdown grace.
	libconfig.Backbone

	Addr          string  `env:"MAILER_ADDR" default:":8103" doc:"HTTP listen address (probes and metrics)"`
	DBMaxConns    int32   `env:"MAILER_DB_MAX_CONNS" default:"16" doc:"connection pool size; each batch of emails in flight holds one"`
	SMTP          SMTP    // SMTP_* settings
	MailFrom      string  `env:"MAIL_FROM" default:"A-Cube <no-reply@acube.local>" doc:"From header of every email"`
	MailRate      float64 `env:"MAIL_RATE" default:"0" doc:"emails per second the mailer sends at most; 0 means no limit"`
	MailTimezone  string  `env:"MAIL_TIMEZONE" default:"UTC" doc:"IANA time zone in which emails show dates and times"`
	PublicBaseURL string  `env:"PUBLIC_BASE_URL" default:"http://localhost:8001" doc:"base of links in emails; event URLs given as paths are joined to it"`
	// SessionManageURL and RegistrationManageURL are the link templates
	// of the manage links; empty means booking's pages under
	// PUBLIC_BASE_URL (ManageTemplates).
	SessionManageURL      string        `env:"MAILER_SESSION_MANAGE_URL" doc:"template of a booking's manage link, an absolute http(s) URL with {id} and {token}, for an organisation's own front end; empty means PUBLIC_BASE_URL/manage/sessions/{id}?token={token} (booking's page)"`
	RegistrationManageURL string        `env:"MAILER_REGISTRATION_MANAGE_URL" doc:"template of a registration's manage link, like MAILER_SESSION_MANAGE_URL; empty means PUBLIC_BASE_URL/manage/registrations/{id}?token={token}"`
	LinkSecret            string        `env:"MAILER_LINK_SECRET" secret:"true" doc:"HMAC key the manage links of bookings and registrations are minted with, at least 32 bytes; must equal booking's BOOKING_LINK_SECRET, which verifies them"`
	Concurrency           int           `env:"MAILER_CONCURRENCY" default:"4" doc:"batches of events handled at once per stream"`
	BatchSize             int           `env:"MAILER_BATCH_SIZE" default:"32" doc:"most events handled in one transaction, their emails sent at once; only events already waiting are batched, none waits for a batch to fill; lowered to fit MAIL_RATE"`
	Retention             time.Duration `env:"MAILER_DELIVERY_RETENTION" default:"720h" doc:"how long the record of each sent email is kept before the hourly purge; at least 192h, the streams' 7 days plus one, so no redelivery outlives it"`
	MaxAttempts           int           `env:"MAILER_MAX_ATTEMPTS" default:"5" doc:"deliveries of an event before it is dead-lettered"`
	RetryBackoff          []string      `env:"MAILER_RETRY_BACKOFF" default:"1s,5s,30s,2m" doc:"waits before each retry after a transient failure; the last repeats"`
	AckLimit              string        `env:"MAILER_ACK_LIMIT" default:"3/hour" doc:"acknowledgements of public forms (bookings, registrations, applications, contact messages) one address gets at most per sliding window, as N/second, N/minute, N/hour, N/day or N/<duration> (3/30m); the rest are suppressed and counted; off means no limit"`
}

// SMTP says how to reach the mail server. An empty Host means no server:
// the mailer logs each email's [MOCK EMAIL] lines instead of sending it.
type SMTP struct {
	Host     string        `env:"SMTP_HOST" doc:"SMTP server; empty logs [MOCK EMAIL] lines instead of sending"`
	Port     int           `env:"SMTP_PORT" default:"1025" doc:"SMTP port"`
	Username string        `env:"SMTP_USERNAME" doc:"SMTP AUTH user; empty means no AUTH"`
	Password string        `env:"SMTP_PASSWORD" secret:"true" doc:"SMTP AUTH password"`
	TLS      string        `env:"SMTP_TLS" default:"none" doc:"none, starttls (required, not opportunistic) or tls (implicit, e.g. port 465)"`
	Timeout  time.Duration `env:"SMTP_TIMEOUT" default:"15s" doc:"bound on dialing and on each SMTP command"`
	Conns    int           `env:"SMTP_CONNS" default:"2" doc:"SMTP connections kept open and reused"`
}

// Load reads and checks the configuration.
func Load(lookup libconfig.LookupEnv) (Config, error) {
	var c Config
	if err := libconfig.Load(lookup, &c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate reports every setting that cannot work, at once.
func (c *Config) Validate() error {
	errs := []error{c.Backbone.Validate()}
	switch c.SMTP.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		errs = append(errs, fmt.Errorf("config: SMTP_TLS=%q: want none, starttls or tls", c.SMTP.TLS))
	}
	if c.SMTP.Port <= 0 || c.SMTP.Port > 65535 {
		errs = append(errs, fmt.Errorf("config: SMTP_PORT=%d: out of range", c.SMTP.Port))
	}
	if c.SMTP.Conns <= 0 {
		errs = append(errs, fmt.Errorf("config: SMTP_CONNS=%d: must be at least 1", c.SMTP.Conns))
	}
	if c.SMTP.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("config: SMTP_TIMEOUT=%s: must be positive", c.SMTP.Timeout))
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		errs = append(errs, fmt.Errorf("config: MAIL_FROM=%q: %w", c.MailFrom, err))
	}
	if c.MailRate < 0 {
		errs = append(errs, fmt.Errorf("config: MAIL_RATE=%g: must not be negative", c.MailRate))
	}
	// Each handler waits for its token inside its consumer's time budget;
	// if the last of them would wait longer, its email would fail and be
	// retried for nothing. Batch lowers the batch size to fit the rest.
	if c.MailRate > 0 && float64(streams*c.Concurrency)/c.MailRate > maxRateWait.Seconds() {
		errs = append(errs, fmt.Errorf("config: MAIL_RATE=%g is too low for MAILER_CONCURRENCY=%d: with %d handlers waiting the last waits over %s; lower MAILER_CONCURRENCY",
			c.MailRate, c.Concurrency, streams*c.Concurrency, maxRateWait))
	}
	if _, err := time.LoadLocation(c.MailTimezone); err != nil {
		errs = append(errs, fmt.Errorf("config: MAIL_TIMEZONE=%q: %w", c.MailTimezone, err))
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("config: PUBLIC_BASE_URL=%q: want an absolute http(s) URL", c.PublicBaseURL))
	}
	if _, _, err := c.parseManageTemplates(); err != nil {
		errs = append(errs, err)
	}
	if len(c.LinkSecret) < managelink.MinSecretLen {
		errs = append(errs, fmt.Errorf("config: MAILER_LINK_SECRET must be at least %d bytes (the same value as BOOKING_LINK_SECRET)", managelink.MinSecretLen))
	}
	if c.Retention < minRetention {
		errs = append(errs, fmt.Errorf("config: MAILER_DELIVERY_RETENTION=%s: must be at least %s", c.Retention, minRetention))
	}
	if c.Concurrency <= 0 {
		errs = append(errs, fmt.Errorf("config: MAILER_CONCURRENCY=%d: must be at least 1", c.Concurrency))
	}
	if c.BatchSize <= 0 || c.BatchSize > maxBatch {
		errs = append(errs, fmt.Errorf("config: MAILER_BATCH_SIZE=%d: must be between 1 and %d", c.BatchSize, maxBatch))
	}
	if c.MaxAttempts <= 0 {
		errs = append(errs, fmt.Errorf("config: MAILER_MAX_ATTEMPTS=%d: must be at least 1", c.MaxAttempts))
	}
	if _, err := c.Backoff(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := c.RecipientLimit(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RecipientLimit parses AckLimit: at most limit acknowledgements per
// window; limit is 0 when AckLimit is off.
func (c *Config) RecipientLimit() (limit int, window time.Duration, err error) {
	if c.AckLimit == "off" {
		return 0, 0, nil
	}
	bad := fmt.Errorf("config: MAILER_ACK_LIMIT=%q: want N/second, N/minute, N/hour, N/day, N/<duration> or off, N at least 1", c.AckLimit)
	n, per, ok := strings.Cut(c.AckLimit, "/")
	if !ok {
		return 0, 0, bad
	}
	limit, err = strconv.Atoi(n)
	if err != nil || limit < 1 {
		return 0, 0, bad
	}
	switch per {
	case "second":
		window = time.Second
	case "minute":
		window = time.Minute
	case "hour":
		window = time.Hour
	case "day":
		window = 24 * time.Hour
	default:
		window, err = time.ParseDuration(per)
		if err != nil || window < time.Second {
			return 0, 0, bad
		}
	}
	return limit, window, nil
}

// Backoff parses RetryBackoff.
func (c *Config) Backoff() ([]time.Duration, error) {
	out := make([]time.Duration, 0, len(c.RetryBackoff))
	for _, s := range c.RetryBackoff {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("config: MAILER_RETRY_BACKOFF: %q is not a positive duration", s)
		}
		out = append(out, d)
	}
	return out, nil
}

// Batch is the batch size the consumers use: BatchSize, lowered when
// MAIL_RATE is set so that, with every handler's batch waiting for the
// rate limiter, the last email still waits at most maxRateWait. Under a
// rate limit the batches cannot make sending faster anyway.
func (c *Config) Batch() int {
	if c.MailRate <= 0 {
		return c.BatchSize
	}
	fit := int(c.MailRate*maxRateWait.Seconds()) / (streams * c.Concurrency)
	return max(1, min(c.BatchSize, fit))
}

// Location is the time zone emails show times in; Validate has checked it.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.MailTimezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ManageTemplates are the templates the manage links in emails are made
// from: MAILER_SESSION_MANAGE_URL and MAILER_REGISTRATION_MANAGE_URL, or
// booking's pages under PUBLIC_BASE_URL. Validate has checked them; a
// template that fails anyway is the zero Template, which the composer
// replaces by its default.
func (c *Config) ManageTemplates() (session, registration managelink.Template) {
	session, registration, _ = c.parseManageTemplates()
	return session, registration
}

func (c *Config) parseManageTemplates() (session, registration managelink.Template, err error) {
	parse := func(name, raw, path string) (managelink.Template, error) {
		if raw == "" {
			raw = strings.TrimSuffix(c.PublicBaseURL, "/") + path
		}
		t, err := managelink.ParseTemplate(raw)
		if err != nil {
			return managelink.Template{}, fmt.Errorf("config: %s: %w", name, err)
		}
		return t, nil
	}
	session, err1 := parse("MAILER_SESSION_MANAGE_URL", c.SessionManageURL, managelink.SessionPagePath)
	registration, err2 := parse("MAILER_REGISTRATION_MANAGE_URL", c.RegistrationManageURL, managelink.RegistrationPagePath)
	return session, registration, errors.Join(err1, err2)
}

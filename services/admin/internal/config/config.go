// Package config is the admin service's configuration, read once from the
// environment.
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

// Config is every setting of the admin service.
type Config struct {
	// Backbone is what every service reads: database, NATS, stream
	// replicas, log level and shutdown grace.
	libconfig.Backbone

	Addr           string   `env:"ADMIN_ADDR" default:":8102" doc:"HTTP listen address"`
	DBRole         string   `env:"ADMIN_DB_ROLE" default:"acube_admin_app" doc:"role every pooled connection takes with SET ROLE (it cannot change or delete audit rows); none keeps the login role"`
	DBMaxConns     int32    `env:"ADMIN_DB_MAX_CONNS" default:"16" doc:"connection pool size"`
	TrustedProxies []string `env:"ADMIN_TRUSTED_PROXIES" default:"127.0.0.0/8,::1/128" doc:"comma-separated CIDRs or addresses whose X-Forwarded-For is believed (the gateway)"`
	DataDir        string   `env:"ADMIN_DATA_DIR" default:".data/admin" doc:"where a generated development signing key is kept"`

	Token    Token
	Argon2   Argon2
	Throttle Throttle
	Bulk     Bulk
	Security Security
}

// Token configures access and refresh tokens.
type Token struct {
	SigningKeyFile string        `env:"ADMIN_SIGNING_KEY_FILE" doc:"PEM (PKCS#8) Ed25519 private key; empty generates one under ADMIN_DATA_DIR"`
	VerifyKeyFiles []string      `env:"ADMIN_VERIFY_KEY_FILES" doc:"PEM public or private keys still published in the JWKS during a rotation"`
	Issuer         string        `env:"ADMIN_TOKEN_ISSUER" default:"acube-admin" doc:"iss of access tokens"`
	Audience       string        `env:"ADMIN_TOKEN_AUDIENCE" default:"acube" doc:"aud of access tokens"`
	AccessTTL      time.Duration `env:"ADMIN_ACCESS_TTL" default:"10m" doc:"access token lifetime, at most 15m"`
	RefreshTTL     time.Duration `env:"ADMIN_REFRESH_TTL" default:"12h" doc:"absolute lifetime of a login's refresh-token family"`
	RefreshIdle    time.Duration `env:"ADMIN_REFRESH_IDLE" default:"2h" doc:"a refresh token unused this long expires"`
	RefreshGrace   time.Duration `env:"ADMIN_REFRESH_GRACE" default:"10s" doc:"a spent refresh token may be retried this long (lost answer)"`
	VerifyLeeway   time.Duration `env:"ADMIN_TOKEN_LEEWAY" default:"5s" doc:"clock skew tolerated on exp and nbf"`
}

// Argon2 are the password hashing parameters; the defaults are OWASP's
// (m=19 MiB, t=2, p=1).
type Argon2 struct {
	MemoryKiB int  `env:"ADMIN_ARGON2_MEMORY_KIB" default:"19456" doc:"argon2id memory in KiB"`
	Time      int  `env:"ADMIN_ARGON2_TIME" default:"2" doc:"argon2id iterations"`
	Threads   int  `env:"ADMIN_ARGON2_THREADS" default:"1" doc:"argon2id parallelism"`
	AllowWeak bool `env:"ADMIN_ARGON2_ALLOW_WEAK" default:"false" doc:"allow parameters below OWASP's (tests only)"`
	MaxVerify int  `env:"ADMIN_ARGON2_MAX_CONCURRENT" default:"4" doc:"password hashes computed at once; more wait"`
	MinLength int  `env:"ADMIN_PASSWORD_MIN_LENGTH" default:"12" doc:"shortest accepted password"`
}

// Throttle is the per-account login back-off (docs/admin.md).
type Throttle struct {
	ClientFree   int           `env:"ADMIN_THROTTLE_CLIENT_FREE" default:"5" doc:"failures per account and client before back-off"`
	ClientMax    time.Duration `env:"ADMIN_THROTTLE_CLIENT_MAX" default:"15m" doc:"longest back-off per account and client"`
	AccountFree  int           `env:"ADMIN_THROTTLE_ACCOUNT_FREE" default:"20" doc:"failures per account from all new clients before back-off"`
	AccountMax   time.Duration `env:"ADMIN_THROTTLE_ACCOUNT_MAX" default:"5m" doc:"longest account-wide back-off"`
	Base         time.Duration `env:"ADMIN_THROTTLE_BASE" default:"1s" doc:"first back-off; each further failure doubles it"`
	Reset        time.Duration `env:"ADMIN_THROTTLE_RESET" default:"15m" doc:"failures older than this are forgotten"`
	KnownClients time.Duration `env:"ADMIN_KNOWN_CLIENT_TTL" default:"720h" doc:"how long a client address that logged in stays exempt from the account-wide back-off"`
}

// Security configures invitations and the TOTP second factor
// (docs/admin.md). Superadmins always need TOTP.
type Security struct {
	MFARequiredForAdmins bool          `env:"ADMIN_MFA_REQUIRED_FOR_ADMINS" default:"false" doc:"admins, not only superadmins, must enrol and use TOTP"`
	MFAIssuer            string        `env:"ADMIN_MFA_ISSUER" default:"A-Cube Admin" doc:"the name authenticator apps show for TOTP"`
	InvitationTTL        time.Duration `env:"ADMIN_INVITATION_TTL" default:"24h" doc:"how long an invitation link works"`
	InvitationPath       string        `env:"ADMIN_INVITATION_PATH" default:"/admin/invitation" doc:"the admin service's invitation page that links lead to (the mailer adds PUBLIC_BASE_URL; ?token= follows)"`
	InvitationURL        string        `env:"ADMIN_INVITATION_URL" doc:"an organisation's own invitation page instead: an absolute http(s) URL with {token} once, e.g. https://admin.example/invite?t={token}"`
}

// InvitationLink is the template of invitation links: ADMIN_INVITATION_URL
// when set, else ADMIN_INVITATION_PATH?token={token}.
func (s Security) InvitationLink() string {
	if s.InvitationURL != "" {
		return s.InvitationURL
	}
	return s.InvitationPath + "?token={token}"
}

func (s Security) validInvitationURL() bool {
	if s.InvitationURL == "" {
		return true
	}
	u, err := url.Parse(s.InvitationURL)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		strings.Count(s.InvitationURL, "{token}") == 1
}

// Bulk configures bulk jobs.
type Bulk struct {
	SyncThreshold int           `env:"ADMIN_BULK_SYNC_THRESHOLD" default:"100" doc:"jobs of at most this many ids are answered synchronously"`
	SyncWait      time.Duration `env:"ADMIN_BULK_SYNC_WAIT" default:"10s" doc:"how long a synchronous bulk request waits before answering 202"`
	MaxIDs        int           `env:"ADMIN_BULK_MAX_IDS" default:"10000" doc:"most ids one bulk request may name"`
}

// Load reads and checks the configuration.
func Load(lookup libconfig.LookupEnv) (Config, error) {
	return libconfig.LoadChecked[Config](lookup)
}

// Validate reports every setting that is out of bounds.
func (c Config) Validate() error {
	errs := []error{c.Backbone.Validate()}
	if c.Token.AccessTTL <= 0 || c.Token.AccessTTL > 15*time.Minute {
		errs = append(errs, fmt.Errorf("config: ADMIN_ACCESS_TTL=%s must be in (0, 15m]", c.Token.AccessTTL))
	}
	if c.Token.RefreshTTL <= 0 || c.Token.RefreshIdle <= 0 || c.Token.RefreshGrace < 0 {
		errs = append(errs, errors.New("config: refresh TTL and idle must be positive, grace not negative"))
	}
	if c.Token.Issuer == "" || c.Token.Audience == "" {
		errs = append(errs, errors.New("config: token issuer and audience are required"))
	}
	a := c.Argon2
	if a.MemoryKiB < 1 || a.Time < 1 || a.Threads < 1 || a.MaxVerify < 1 {
		errs = append(errs, errors.New("config: argon2 parameters must be at least 1"))
	}
	// OWASP's minimum: m=19 MiB with t=2, or more memory with fewer passes
	// (m=46 MiB with t=1); anything weaker needs the explicit test switch.
	if !a.AllowWeak && a.MemoryKiB*a.Time < 19456*2 && !(a.MemoryKiB >= 47104 && a.Time >= 1) {
		errs = append(errs, fmt.Errorf("config: argon2id m=%d KiB t=%d is below OWASP's minimum (m=19456 t=2)", a.MemoryKiB, a.Time))
	}
	if a.MinLength < 8 {
		errs = append(errs, errors.New("config: ADMIN_PASSWORD_MIN_LENGTH must be at least 8"))
	}
	th := c.Throttle
	if th.ClientFree < 1 || th.AccountFree < 1 || th.Base <= 0 || th.ClientMax < th.Base || th.AccountMax < th.Base || th.Reset <= 0 {
		errs = append(errs, errors.New("config: throttle counts must be at least 1 and back-offs positive"))
	}
	if sec := c.Security; sec.InvitationTTL <= 0 || sec.InvitationTTL > 7*24*time.Hour ||
		!strings.HasPrefix(sec.InvitationPath, "/") || strings.HasPrefix(sec.InvitationPath, "//") || !sec.validInvitationURL() || sec.MFAIssuer == "" {
		errs = append(errs, errors.New("config: ADMIN_INVITATION_TTL must be in (0, 168h], ADMIN_INVITATION_PATH a path, ADMIN_INVITATION_URL empty or an absolute http(s) URL with {token} once, ADMIN_MFA_ISSUER set"))
	}
	if c.Bulk.SyncThreshold < 0 || c.Bulk.MaxIDs < 1 || c.Bulk.SyncWait <= 0 {
		errs = append(errs, errors.New("config: bulk threshold must be >= 0, max ids >= 1, sync wait > 0"))
	}
	if _, err := c.Clients(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ServingRole is the role the serving pool takes, or "" to keep the login
// role: ADMIN_DB_ROLE=none, as in PostgreSQL's SET ROLE NONE. (An empty
// ADMIN_DB_ROLE= also keeps the login role; unset means the default,
// acube_admin_app.)
func (c Config) ServingRole() string {
	if strings.EqualFold(c.DBRole, "none") {
		return ""
	}
	return c.DBRole
}

// Clients is the resolver of client addresses over TrustedProxies
// (libs/clientip: CIDRs or single addresses).
func (c Config) Clients() (*clientip.Resolver, error) {
	return libconfig.Clients("ADMIN_TRUSTED_PROXIES", c.TrustedProxies)
}

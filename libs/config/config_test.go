package config

import (
	"strings"
	"testing"
	"time"
)

type sample struct {
	Addr    string        `env:"ADDR" default:":80"`
	DB      string        `env:"DB" default:"postgres://u:pw@h:5432/d" secret:"true"`
	Timeout time.Duration `env:"TIMEOUT" default:"2s"`
	Workers int           `env:"WORKERS" default:"4"`
	Debug   bool          `env:"DEBUG"`
	CIDRs   []string      `env:"CIDRS" default:"127.0.0.0/8, ::1/128"`
	Nested  struct {
		Rate float64 `env:"RATE" default:"1.5"`
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(sample) bool
		wantErr string
	}{
		{name: "defaults", env: nil, check: func(s sample) bool {
			return s.Addr == ":80" && s.Timeout == 2*time.Second && s.Workers == 4 && !s.Debug &&
				len(s.CIDRs) == 2 && s.CIDRs[1] == "::1/128" && s.Nested.Rate == 1.5
		}},
		{name: "overrides", env: map[string]string{"ADDR": ":9", "WORKERS": "8", "DEBUG": "true", "RATE": "3"},
			check: func(s sample) bool { return s.Addr == ":9" && s.Workers == 8 && s.Debug && s.Nested.Rate == 3 }},
		{name: "every bad value reported", env: map[string]string{"TIMEOUT": "soon", "WORKERS": "many"}, wantErr: "TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sample
			err := Load(Map(tt.env), &s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "WORKERS") {
					t.Fatalf("err = %v, want both bad variables named", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(s) {
				t.Errorf("loaded %+v", s)
			}
		})
	}
}

func TestDescribeMasksSecrets(t *testing.T) {
	var s sample
	if err := Load(Map(nil), &s); err != nil {
		t.Fatal(err)
	}
	for _, f := range Describe(&s) {
		if f.Env == "DB" && strings.Contains(f.Value, "pw") {
			t.Errorf("secret shown: %s", f.Value)
		}
	}
}

// TestLoadEmptyIsNotUnset: a variable set to "" is empty, not the default
// (REDIS_URL= turns the gateway's Redis off although the default names
// one); only an unset variable takes the default. An empty number has no
// meaning, so it is an error rather than a silent default.
func TestLoadEmptyIsNotUnset(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(sample) bool
		wantErr string
	}{
		{name: "unset takes the default", env: nil,
			want: func(s sample) bool { return s.Addr == ":80" && len(s.CIDRs) == 2 }},
		{name: "empty text is empty", env: map[string]string{"ADDR": ""},
			want: func(s sample) bool { return s.Addr == "" }},
		{name: "empty secret is empty", env: map[string]string{"DB": ""},
			want: func(s sample) bool { return s.DB == "" }},
		{name: "empty list is empty", env: map[string]string{"CIDRS": ""},
			want: func(s sample) bool { return s.CIDRs == nil }},
		{name: "empty number is an error", env: map[string]string{"WORKERS": ""}, wantErr: "WORKERS is set but empty"},
		{name: "empty duration is an error", env: map[string]string{"TIMEOUT": ""}, wantErr: "TIMEOUT is set but empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sample
			err := Load(Map(tt.env), &s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(s) {
				t.Errorf("loaded %+v", s)
			}
		})
	}
}

// TestLoadEmbeddedBase: a service's config embeds Backbone and reads the
// shared variables under their usual names.
func TestLoadEmbeddedBase(t *testing.T) {
	var c struct {
		Backbone
		Admin AdminTokens
		Addr  string `env:"X_ADDR" default:":1"`
	}
	env := map[string]string{"NATS_URL": "nats://n:4222", "SHUTDOWN_GRACE": "3s", "ADMIN_URL": "http://admin:8102/"}
	if err := Load(Map(env), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.NATSURL != "nats://n:4222" || c.ShutdownGrace != 3*time.Second || c.LogLevel != "info" || c.StreamReplicas != 1 || c.Addr != ":1" {
		t.Errorf("loaded %+v", c)
	}
	if got, want := c.Admin.KeysURL(), "http://admin:8102/api/admin/auth/jwks.json"; got != want {
		t.Errorf("KeysURL() = %q, want %q", got, want)
	}
	names := map[string]bool{}
	for _, f := range Describe(&c) {
		names[f.Env] = true
	}
	for _, want := range []string{"LOG_LEVEL", "SHUTDOWN_GRACE", "DATABASE_URL", "NATS_URL", "STREAM_REPLICAS", "ADMIN_JWKS_URL", "X_ADDR"} {
		if !names[want] {
			t.Errorf("Describe misses %s", want)
		}
	}
}

// TestBackboneNATS: the NATS settings load under their names, a password
// in any URL of a NATS_URL list is masked when the configuration is logged,
// and a bare token, which nothing tells from a user name, is refused
// without being echoed.
func TestBackboneNATS(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		wantLog    string
		wantErr    string
		wantHidden []string // never in the logged value or the error
	}{
		{name: "plain", url: "tls://nats.acube-infra.svc:4222", wantLog: "tls://nats.acube-infra.svc:4222"},
		{name: "host and port only", url: "127.0.0.1:4222", wantLog: "xxxxx"},
		{name: "passwords in a list", url: "nats://svc:pw1@a:4222, nats://svc:pw2@b:4222",
			wantLog: "nats://svc:xxxxx@a:4222,nats://svc:xxxxx@b:4222", wantHidden: []string{"pw1", "pw2"}},
		{name: "token", url: "nats://a:4222,nats://s3cret@b:4222", wantErr: "NATS_URL entry 2 carries a token", wantHidden: []string{"s3cret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Backbone
			env := map[string]string{"NATS_URL": tt.url, "NATS_NKEY_FILE": "/etc/acube/nats/nkey", "NATS_CA_FILE": "/etc/acube/nats/ca.crt"}
			if err := Load(Map(env), &b); err != nil {
				t.Fatal(err)
			}
			if b.NATSNKeyFile != "/etc/acube/nats/nkey" || b.NATSCAFile != "/etc/acube/nats/ca.crt" {
				t.Errorf("loaded %+v", b)
			}
			err := b.Validate()
			logged := ""
			for _, f := range Describe(&b) {
				if f.Env == "NATS_URL" {
					logged = f.Value
				}
			}
			// A refused configuration is never logged (services validate
			// before they log it); its error must not show the secret.
			for _, secret := range tt.wantHidden {
				if (err == nil && strings.Contains(logged, secret)) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Errorf("%q shown: logged %q, error %v", secret, logged, err)
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if logged != tt.wantLog {
				t.Errorf("NATS_URL logged as %q, want %q", logged, tt.wantLog)
			}
		})
	}
}

// TestMaskQuerySecrets: a secret in a URL's query (the Sentinels' password
// of a failover REDIS_URL) is masked like one in its user info.
func TestMaskQuerySecrets(t *testing.T) {
	tests := []struct {
		in, want, hidden string
	}{
		{"redis://:pw@127.0.0.1:6379/0?master_name=acube&addr=b:26379&password=s3nt", "redis://:xxxxx@127.0.0.1:6379/0?addr=b%3A26379&master_name=acube&password=xxxxx", "s3nt"},
		{"postgres://u:pw@h/db?sslmode=require", "postgres://u:xxxxx@h/db?sslmode=require", "pw"},
		{"https://h/x?api_token=t0k", "https://h/x?api_token=xxxxx", "t0k"},
	}
	for _, tt := range tests {
		got := mask(tt.in)
		if got != tt.want || strings.Contains(got, tt.hidden) {
			t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

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

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
			err := Load(func(k string) string { return tt.env[k] }, &s)
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
	if err := Load(func(string) string { return "" }, &s); err != nil {
		t.Fatal(err)
	}
	for _, f := range Describe(&s) {
		if f.Env == "DB" && strings.Contains(f.Value, "pw") {
			t.Errorf("secret shown: %s", f.Value)
		}
	}
}

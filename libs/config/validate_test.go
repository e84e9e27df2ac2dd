package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLogValueMasksSecrets: the configuration line every service logs at
// start carries each setting under its lower-cased variable name, and
// never a password, wherever it hides (URL user info, a list of URLs).
func TestLogValueMasksSecrets(t *testing.T) {
	t.Parallel()
	cfg := Migrate{
		Base:        Base{LogLevel: "debug", ShutdownGrace: 20 * time.Second},
		DatabaseURL: "postgres://owner:hunter2@db:5432/acube?sslmode=disable",
	}
	backbone := Backbone{Base: cfg.Base, DatabaseURL: "postgres://app:hunter2@db/acube", NATSURL: "nats://svc:hunter2@n1:4222, nats://svc:hunter2@n2:4222", StreamReplicas: 3}
	for _, c := range []any{&cfg, backbone} {
		var b bytes.Buffer
		slog.New(slog.NewJSONHandler(&b, nil)).Info("config", LogValue(c)...)
		if strings.Contains(b.String(), "hunter2") {
			t.Errorf("config line shows a password: %s", b.String())
		}
		var line map[string]any
		if err := json.Unmarshal(b.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line["log_level"] != "debug" || line["shutdown_grace"] != "20s" {
			t.Errorf("config line %s lacks log_level=debug, shutdown_grace=20s", b.String())
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	base := Base{LogLevel: "info", ShutdownGrace: time.Second}
	tests := []struct {
		name    string
		v       interface{ Validate() error }
		wantErr []string
	}{
		{name: "migrate ok", v: Migrate{Base: base, DatabaseURL: "postgres://owner@db/acube"}},
		{name: "migrate without its URL", v: Migrate{Base: base}, wantErr: []string{"MIGRATE_DATABASE_URL"}},
		{name: "migrate reports every problem", v: Migrate{Base: Base{LogLevel: "loud"}}, wantErr: []string{"LOG_LEVEL", "SHUTDOWN_GRACE", "MIGRATE_DATABASE_URL"}},
		{name: "admin tokens ok", v: AdminTokens{Issuer: "acube-admin", Audience: "acube"}},
		{name: "admin tokens without issuer", v: AdminTokens{Audience: "acube"}, wantErr: []string{"ADMIN_TOKEN_ISSUER"}},
		{name: "admin tokens without audience", v: AdminTokens{Issuer: "acube-admin"}, wantErr: []string{"ADMIN_TOKEN_AUDIENCE"}},
		{name: "revocations ok", v: Revocations{AccessTTLMax: 15 * time.Minute}},
		{name: "revocations bounds ok", v: Revocations{AccessTTLMax: 24 * time.Hour}},
		{name: "revocations too short", v: Revocations{AccessTTLMax: 59 * time.Second}, wantErr: []string{"ADMIN_ACCESS_TTL_MAX"}},
		{name: "revocations too long", v: Revocations{AccessTTLMax: 25 * time.Hour}, wantErr: []string{"ADMIN_ACCESS_TTL_MAX"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.v.Validate()
			if (err != nil) != (len(tt.wantErr) > 0) {
				t.Fatalf("Validate() = %v, want errors naming %v", err, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to name %s", err, w)
				}
			}
		})
	}
}

// TestLoadChecked: a service's Load returns the loaded configuration with
// what its Validate reports, and a zero one when a value cannot be read.
func TestLoadChecked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    string // MIGRATE_DATABASE_URL of the result
		wantErr string
	}{
		{name: "valid", env: map[string]string{"MIGRATE_DATABASE_URL": "postgres://owner@db/acube"}, want: "postgres://owner@db/acube"},
		{name: "invalid keeps what it read", env: map[string]string{"MIGRATE_DATABASE_URL": "postgres://owner@db/acube", "LOG_LEVEL": "loud"},
			want: "postgres://owner@db/acube", wantErr: "LOG_LEVEL"},
		{name: "missing setting", env: map[string]string{}, wantErr: "MIGRATE_DATABASE_URL"},
		{name: "unreadable value", env: map[string]string{"MIGRATE_DATABASE_URL": "postgres://owner@db/acube", "SHUTDOWN_GRACE": "soon"}, wantErr: "SHUTDOWN_GRACE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadChecked[Migrate](Map(tt.env))
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("LoadChecked() err = %v, want one naming %q", err, tt.wantErr)
			}
			if got.DatabaseURL != tt.want {
				t.Errorf("LoadChecked().DatabaseURL = %q, want %q", got.DatabaseURL, tt.want)
			}
		})
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proxies []string
		wantErr bool
	}{
		{name: "none", proxies: nil},
		{name: "cidr and address", proxies: []string{"10.0.0.0/8", "::1"}},
		{name: "bad entry", proxies: []string{"not-an-address"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Clients("SVC_TRUSTED_PROXIES", tt.proxies)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Clients() err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr && !strings.Contains(err.Error(), "SVC_TRUSTED_PROXIES") {
				t.Errorf("Clients() err = %v, want it to name SVC_TRUSTED_PROXIES", err)
			}
			if !tt.wantErr && r == nil {
				t.Error("Clients() returned no resolver")
			}
		})
	}
}

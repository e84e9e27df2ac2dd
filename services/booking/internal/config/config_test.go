package config

import (
	"strings"
	"testing"
	"time"

	libconfig "github.com/acube/platform/libs/config"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		// wantErr names the setting the error must mention; empty: valid.
		wantErr string
	}{
		{name: "defaults are valid"},
		{name: "public base URL loses its trailing slash", env: map[string]string{"PUBLIC_BASE_URL": "https://book.example/"}},
		{name: "public base URL is relative", env: map[string]string{"PUBLIC_BASE_URL": "/book"}, wantErr: "PUBLIC_BASE_URL"},
		{name: "public base URL is not http", env: map[string]string{"PUBLIC_BASE_URL": "ftp://book.example"}, wantErr: "PUBLIC_BASE_URL"},
		{name: "public base URL does not parse", env: map[string]string{"PUBLIC_BASE_URL": "http://[::1"}, wantErr: "PUBLIC_BASE_URL"},
		{name: "short link secret", env: map[string]string{"BOOKING_LINK_SECRET": "too-short"}, wantErr: "BOOKING_LINK_SECRET"},
		{name: "32-byte link secret", env: map[string]string{"BOOKING_LINK_SECRET": strings.Repeat("k", 32)}},
		{name: "idempotency keys forgotten at once", env: map[string]string{"BOOKING_IDEMPOTENCY_TTL": "30s"}, wantErr: "BOOKING_IDEMPOTENCY_TTL"},
		{name: "links that never work", env: map[string]string{"BOOKING_LINK_TTL": "0s"}, wantErr: "BOOKING_LINK_TTL"},
		{name: "negative cancel notice", env: map[string]string{"BOOKING_CANCEL_NOTICE": "-1h"}, wantErr: "BOOKING_CANCEL_NOTICE"},
		{name: "no image fits", env: map[string]string{"BOOKING_IMAGE_MAX_BYTES": "0"}, wantErr: "BOOKING_IMAGE_MAX_BYTES"},
		{name: "empty job chunks", env: map[string]string{"BOOKING_JOB_CHUNK_SIZE": "0"}, wantErr: "BOOKING_JOB_CHUNK_SIZE"},
		{name: "job chunks above 500", env: map[string]string{"BOOKING_JOB_CHUNK_SIZE": "501"}, wantErr: "BOOKING_JOB_CHUNK_SIZE"},
		{name: "job chunks of 500", env: map[string]string{"BOOKING_JOB_CHUNK_SIZE": "500"}},
		{name: "bad trusted proxy", env: map[string]string{"BOOKING_TRUSTED_PROXIES": "10.0.0.0/8,nonsense"}, wantErr: "BOOKING_TRUSTED_PROXIES"},
		{name: "access tokens remembered too briefly", env: map[string]string{"ADMIN_ACCESS_TTL_MAX": "30s"}, wantErr: "ADMIN_ACCESS_TTL_MAX"},
		{name: "access tokens remembered too long", env: map[string]string{"ADMIN_ACCESS_TTL_MAX": "25h"}, wantErr: "ADMIN_ACCESS_TTL_MAX"},
		{name: "no database", env: map[string]string{"DATABASE_URL": ""}, wantErr: "DATABASE_URL"},
		{name: "no token issuer", env: map[string]string{"ADMIN_TOKEN_ISSUER": ""}, wantErr: "ADMIN_TOKEN_ISSUER"},
		{name: "not a duration", env: map[string]string{"BOOKING_LINK_TTL": "a week"}, wantErr: "BOOKING_LINK_TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(libconfig.Map(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if strings.HasSuffix(c.PublicBaseURL, "/") {
				t.Errorf("PublicBaseURL = %q, want no trailing slash", c.PublicBaseURL)
			}
		})
	}
}

// TestLoadDefaults pins the defaults the documentation and the deployment
// rely on.
func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(libconfig.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{name: "addr", got: c.Addr, want: ":8101"},
		{name: "pool size", got: c.DBMaxConns, want: int32(16)},
		{name: "public base URL", got: c.PublicBaseURL, want: "http://localhost:8001"},
		{name: "idempotency TTL", got: c.IdempotencyTTL, want: 24 * time.Hour},
		{name: "link TTL", got: c.Links.TTL, want: 168 * time.Hour},
		{name: "cancel notice", got: c.Links.CancelNotice, want: 24 * time.Hour},
		{name: "image limit", got: c.Images.MaxBytes, want: int64(5 << 20)},
		{name: "job chunk", got: c.Jobs.ChunkSize, want: 100},
		{name: "access TTL max", got: c.Revocations.AccessTTLMax, want: 15 * time.Minute},
		{name: "trusted proxies", got: strings.Join(c.TrustedProxies, ","), want: "127.0.0.0/8,::1/128"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestClients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proxies []string
		wantErr bool
	}{
		{name: "CIDRs and an address", proxies: []string{"10.0.0.0/8", "192.168.1.7"}},
		{name: "none", proxies: nil},
		{name: "not an address", proxies: []string{"gateway"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Config{TrustedProxies: tt.proxies}.Clients()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Clients() err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && r == nil {
				t.Fatal("Clients() returned no resolver")
			}
			if err != nil && !strings.Contains(err.Error(), "BOOKING_TRUSTED_PROXIES") {
				t.Errorf("Clients() err = %v, want it to name BOOKING_TRUSTED_PROXIES", err)
			}
		})
	}
}

func TestLoadMigrate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "owner URL given", env: map[string]string{"MIGRATE_DATABASE_URL": "postgres://owner@db/acube"}},
		{name: "owner URL empty", env: map[string]string{"MIGRATE_DATABASE_URL": ""}, wantErr: true},
		{name: "bad log level", env: map[string]string{"MIGRATE_DATABASE_URL": "postgres://owner@db/acube", "LOG_LEVEL": "loud"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadMigrate(libconfig.Map(tt.env))
			if (err != nil) != tt.wantErr {
				t.Fatalf("LoadMigrate err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && m.DatabaseURL != tt.env["MIGRATE_DATABASE_URL"] {
				t.Errorf("DatabaseURL = %q, want %q", m.DatabaseURL, tt.env["MIGRATE_DATABASE_URL"])
			}
		})
	}
}

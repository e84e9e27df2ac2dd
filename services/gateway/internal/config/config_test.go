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
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{name: "defaults", env: nil, check: func(c Config) bool {
			return c.Addr == ":8001" && c.InternalAddr == "127.0.0.1:8002" && c.Upstreams.Booking == "http://127.0.0.1:8101" && c.Upstreams.Admin == "http://127.0.0.1:8102" &&
				c.Upstreams.Exporter == "http://127.0.0.1:8104" && c.Redis.URL == "redis://127.0.0.1:6379/0" &&
				c.Redis.Timeout == 50*time.Millisecond && c.RateLimit.Enabled && c.RateLimit.Shadow == nil && c.Proxy.TrustedProxies == nil &&
				c.Proxy.BodyReadTimeout == 10*time.Second && c.Redis.LeaseMax == 65535
		}},
		{name: "overrides", env: map[string]string{"GATEWAY_ADDR": ":9000", "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.0.1", "RATELIMIT_SHADOW": "public"},
			check: func(c Config) bool {
				return c.Addr == ":9000" && len(c.Proxy.TrustedProxies) == 2 && len(c.RateLimit.Shadow) == 1
			}},
		{name: "REDIS_URL set to empty means no Redis", env: map[string]string{"REDIS_URL": ""},
			check: func(c Config) bool { return c.Redis.URL == "" }},
		{name: "bad upstream", env: map[string]string{"ADMIN_URL": "ftp://x"}, wantErr: "ADMIN_URL"},
		{name: "net/http data path", env: map[string]string{"GATEWAY_DATA_PATH": "nethttp"}, check: func(c Config) bool { return c.DataPath == DataPathNet }},
		{name: "unknown data path", env: map[string]string{"GATEWAY_DATA_PATH": "quick"}, wantErr: "GATEWAY_DATA_PATH"},
		{name: "bad near limit", env: map[string]string{"RATELIMIT_NEAR_LIMIT": "1.5"}, wantErr: "RATELIMIT_NEAR_LIMIT"},
		{name: "zero workers", env: map[string]string{"REDIS_PIPELINE_WORKERS": "-1"}, wantErr: "REDIS_PIPELINE_WORKERS"},
		{name: "the largest lease", env: map[string]string{"REDIS_LEASE_MAX": "65535"},
			check: func(c Config) bool { return c.Redis.LeaseMax == 65535 }},
		{name: "a lease past what a grant carries", env: map[string]string{"REDIS_LEASE_MAX": "65536"}, wantErr: "REDIS_LEASE_MAX"},
		{name: "internal port is the public one", env: map[string]string{"GATEWAY_ADDR": ":9000", "GATEWAY_INTERNAL_ADDR": ":9000"}, wantErr: "GATEWAY_INTERNAL_ADDR"},
		{name: "no internal port", env: map[string]string{"GATEWAY_INTERNAL_ADDR": ""}, wantErr: "GATEWAY_INTERNAL_ADDR"},
		{name: "body read timeout", env: map[string]string{"GATEWAY_BODY_READ_TIMEOUT": "250ms"},
			check: func(c Config) bool { return c.Proxy.BodyReadTimeout == 250*time.Millisecond }},
		{name: "no body read timeout", env: map[string]string{"GATEWAY_BODY_READ_TIMEOUT": "0s"}, wantErr: "GATEWAY_BODY_READ_TIMEOUT"},
		{name: "bad bool", env: map[string]string{"RATELIMIT_ENABLED": "maybe"}, wantErr: "RATELIMIT_ENABLED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(libconfig.Map(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want it to mention %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("Load = %+v, %v", c, err)
			}
		})
	}
}

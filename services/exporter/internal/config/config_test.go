package config

import (
	"testing"

	libconfig "github.com/acube/platform/libs/config"
)

func TestLoadAdminKeys(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "default admin", want: "http://127.0.0.1:8102/api/admin/auth/jwks.json"},
		{name: "from ADMIN_URL", env: map[string]string{"ADMIN_URL": "http://127.0.0.1:9999/"}, want: "http://127.0.0.1:9999/api/admin/auth/jwks.json"},
		{name: "explicit JWKS wins", env: map[string]string{"ADMIN_URL": "http://a:1", "ADMIN_JWKS_URL": "http://keys/jwks.json"}, want: "http://keys/jwks.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(libconfig.Map(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Admin.KeysURL(); got != tt.want {
				t.Errorf("JWKS URL = %q, want %q", got, tt.want)
			}
		})
	}
}

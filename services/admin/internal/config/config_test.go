package config

import (
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "defaults are valid and OWASP-strong"},
		{name: "access ttl above 15m", env: map[string]string{"ADMIN_ACCESS_TTL": "16m"}, wantErr: "ADMIN_ACCESS_TTL"},
		{name: "weak argon2 refused", env: map[string]string{"ADMIN_ARGON2_MEMORY_KIB": "1024", "ADMIN_ARGON2_TIME": "1"}, wantErr: "OWASP"},
		{name: "weak argon2 allowed for tests", env: map[string]string{"ADMIN_ARGON2_MEMORY_KIB": "64", "ADMIN_ARGON2_TIME": "1", "ADMIN_ARGON2_ALLOW_WEAK": "true"}},
		{name: "m=46MiB t=1 is OWASP", env: map[string]string{"ADMIN_ARGON2_MEMORY_KIB": "47104", "ADMIN_ARGON2_TIME": "1"}},
		{name: "bad proxy", env: map[string]string{"ADMIN_TRUSTED_PROXIES": "10.0.0.0/8,nonsense"}, wantErr: "ADMIN_TRUSTED_PROXIES"},
		{name: "no free attempts", env: map[string]string{"ADMIN_THROTTLE_CLIENT_FREE": "0"}, wantErr: "throttle"},
		{name: "invitations that never expire", env: map[string]string{"ADMIN_INVITATION_TTL": "720h"}, wantErr: "ADMIN_INVITATION_TTL"},
		{name: "invitation page is no path", env: map[string]string{"ADMIN_INVITATION_PATH": "https://evil.example/x"}, wantErr: "ADMIN_INVITATION_PATH"},
		{name: "an organisation's own invitation page", env: map[string]string{"ADMIN_INVITATION_URL": "https://admin.example/invite?t={token}"}},
		{name: "own invitation page without the token", env: map[string]string{"ADMIN_INVITATION_URL": "https://admin.example/invite"}, wantErr: "ADMIN_INVITATION_URL"},
		{name: "own invitation page is relative", env: map[string]string{"ADMIN_INVITATION_URL": "/invite?t={token}"}, wantErr: "ADMIN_INVITATION_URL"},
		{name: "TOTP for admins too", env: map[string]string{"ADMIN_MFA_REQUIRED_FOR_ADMINS": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(libconfig.Map(tt.env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if c.Addr != ":8102" || c.Bulk.SyncThreshold != 100 {
					t.Fatalf("defaults = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load err = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestServingRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string
		want string
	}{
		{name: "default is the app role", want: "acube_admin_app"},
		{name: "another role", env: "admin_reader", want: "admin_reader"},
		{name: "none keeps the login role", env: "none", want: ""},
		{name: "NONE too", env: "NONE", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			if tt.env != "" {
				env["ADMIN_DB_ROLE"] = tt.env
			}
			c, err := Load(libconfig.Map(env))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ServingRole(); got != tt.want {
				t.Fatalf("ServingRole() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInvitationLink(t *testing.T) {
	tests := []struct {
		name string
		sec  Security
		want string
	}{
		{name: "the admin service's page", sec: Security{InvitationPath: "/admin/invitation"}, want: "/admin/invitation?token={token}"},
		{name: "an organisation's own page wins", sec: Security{InvitationPath: "/admin/invitation", InvitationURL: "https://admin.example/i?t={token}"}, want: "https://admin.example/i?t={token}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sec.InvitationLink(); got != tt.want {
				t.Errorf("InvitationLink() = %q, want %q", got, tt.want)
			}
		})
	}
}

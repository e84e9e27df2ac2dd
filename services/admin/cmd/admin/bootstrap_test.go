package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/postgres/pgtest"
	"github.com/acube/platform/services/admin/internal/migrations"
	"github.com/acube/platform/services/admin/internal/store"
)

// failingReader is a standard input that breaks.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("stdin went away") }

// TestBootstrapRefusesBadInput: the bootstrap command stops, before it
// touches a database, on arguments, configuration or a standard input it
// cannot use, saying which.
func TestBootstrapRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		stdin io.Reader
		want  string
	}{
		{name: "unknown flag", args: []string{"--emial", "root@example.org"}, stdin: strings.NewReader("pw\n"), want: "flag provided but not defined"},
		{name: "no email", args: nil, stdin: strings.NewReader("pw\n"), want: "--email is required"},
		{name: "bad configuration", args: []string{"--email", "root@example.org"}, env: map[string]string{"ADMIN_ACCESS_TTL": "16m"},
			stdin: strings.NewReader("pw\n"), want: "ADMIN_ACCESS_TTL"},
		{name: "no password", args: []string{"--email", "root@example.org"}, stdin: strings.NewReader("\n"), want: "no password on standard input"},
		{name: "broken stdin", args: []string{"--email", "root@example.org"}, stdin: failingReader{}, want: "read password from stdin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := bootstrap(context.Background(), tt.args, libconfig.Map(tt.env), tt.stdin, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("bootstrap = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

// TestIntegrationBootstrapOnce: the first superadmin is created once; a
// second bootstrap, or one with an address that is not one, is refused.
func TestIntegrationBootstrapOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.NewMigratedService(t, schema, store.AppRole, migrations.Sets()...)
	env := libconfig.Map(map[string]string{
		"DATABASE_URL": db.AppURL, "ADMIN_DATA_DIR": t.TempDir(), "LOG_LEVEL": "warn",
		"ADMIN_ARGON2_MEMORY_KIB": "64", "ADMIN_ARGON2_TIME": "1", "ADMIN_ARGON2_ALLOW_WEAK": "true",
	})
	ctx := context.Background()
	tests := []struct {
		name, email, want string
	}{
		{name: "not an address", email: "root-at-example", want: "email"},
		{name: "the first superadmin", email: "root@example.org"},
		{name: "a second one", email: "another@example.org", want: "bootstrap:"},
	}
	for _, tt := range tests {
		var out strings.Builder
		err := bootstrap(ctx, []string{"--email", tt.email}, env, strings.NewReader(rootPassword+"\n"), &out)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: bootstrap = %v", tt.name, err)
		case tt.want == "" && !strings.Contains(out.String(), "recovery code:"):
			t.Errorf("%s: printed no recovery codes:\n%s", tt.name, out.String())
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: bootstrap = %v, want an error about %q", tt.name, err, tt.want)
		}
	}
}

// TestIntegrationRunRefusesUnusableKeys: run stops when a signing or
// verification key it is told to use cannot be read, or when it has
// nowhere to keep a generated one, naming the file.
func TestIntegrationRunRefusesUnusableKeys(t *testing.T) {
	t.Parallel()
	db := pgtest.NewMigratedService(t, schema, store.AppRole, migrations.Sets()...)
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	garbage := filepath.Join(dir, "garbage.pem")
	for _, f := range []string{notADir, garbage} {
		if err := os.WriteFile(f, []byte("not a key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "missing signing key", env: map[string]string{"ADMIN_SIGNING_KEY_FILE": missing}, want: "missing.pem"},
		{name: "signing key is no key", env: map[string]string{"ADMIN_SIGNING_KEY_FILE": garbage}, want: "garbage.pem"},
		{name: "missing verification key", env: map[string]string{"ADMIN_VERIFY_KEY_FILES": missing}, want: "missing.pem"},
		{name: "data dir is a file", env: map[string]string{"ADMIN_DATA_DIR": notADir}, want: "file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": db.AppURL, "ADMIN_DATA_DIR": t.TempDir(), "LOG_LEVEL": "warn"}
			for k, v := range tt.env {
				env[k] = v
			}
			err := run(context.Background(), libconfig.Map(env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

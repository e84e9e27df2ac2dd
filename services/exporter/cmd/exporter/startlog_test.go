package main

import (
	"context"
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/testkit"
)

// TestStartupLogMasksSecretsInURLs: the "starting" line logs the whole
// configuration; the passwords in DATABASE_URL and NATS_URL (every URL of
// a list) are masked there, and in the error of a start that cannot
// connect, while the hosts stay readable (issue 13, finding 8).
func TestStartupLogMasksSecretsInURLs(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":  "postgres://exporter_app:pgS3cretPw@127.0.0.1:1/acube?sslmode=disable",
		"NATS_URL":      "nats://exporter:natsS3cretPw@127.0.0.1:1,nats://exporter:natsS3cretPw2@127.0.0.2:1",
		"EXPORTER_ADDR": testkit.FreeAddr(t),
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // log the configuration, then give up connecting at once
	logs := &testkit.SyncBuffer{}
	err := run(ctx, nil, libconfig.Map(env), logs)
	var starting string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"starting"`) {
			starting = line
		}
	}
	if starting == "" {
		t.Fatalf("no starting line (run: %v):\n%s", err, logs)
	}
	for _, secret := range []string{"pgS3cretPw", "natsS3cretPw"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("%s in the log:\n%s", secret, logs)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s in the error: %v", secret, err)
		}
	}
	for _, want := range []string{`"database_url":"postgres://exporter_app:xxxxx@127.0.0.1:1/acube?sslmode=disable"`,
		`"nats_url":"nats://exporter:xxxxx@127.0.0.1:1,nats://exporter:xxxxx@127.0.0.2:1"`} {
		if !strings.Contains(starting, want) {
			t.Errorf("starting line lacks %s:\n%s", want, starting)
		}
	}
}

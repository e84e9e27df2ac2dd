package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/testkit"
)

// TestStartupLogMasksRedisPassword: the "starting" line logs the whole
// configuration with REDIS_URL's password masked and its host readable,
// and nothing else the gateway logs on its way up and down shows it.
func TestStartupLogMasksRedisPassword(t *testing.T) {
	env := map[string]string{
		"REDIS_URL":             "redis://gateway:redisS3cretPw@127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) + "/0",
		"GATEWAY_ADDR":          "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)),
		"GATEWAY_INTERNAL_ADDR": "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)),
		"SHUTDOWN_GRACE":        "1s",
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start, then stop at once
	logs := &testkit.SyncBuffer{}
	if err := run(ctx, libconfig.Map(env), logs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "redisS3cretPw") {
		t.Errorf("the Redis password is in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"redis_url":"redis://gateway:xxxxx@127.0.0.1:`) {
		t.Errorf("the starting line does not show REDIS_URL masked:\n%s", logs)
	}
}

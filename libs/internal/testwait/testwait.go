// Package testwait polls a condition in integration tests. The deadline is
// a liveness bound that fails a hung test, not a performance assertion.
package testwait

import (
	"testing"
	"time"
)

// For polls cond every 20ms until it holds, failing the test with msg after
// 30 seconds.
func For(t testing.TB, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Package webtest holds what the tests of handlers built on libs/web
// share.
package webtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/acube/platform/libs/web"
)

// Decode decodes body into dst as a handler with the body limit max does
// (web.DecodeJSON) and reports whether it decoded. A body that does not
// must be a client error: anything but a 4xx *web.Error fails t. Fuzz
// targets of request bodies start with it.
func Decode(t testing.TB, body string, max int64, dst any) bool {
	t.Helper()
	err := web.DecodeJSON(strings.NewReader(body), max, dst)
	if err == nil {
		return true
	}
	var we *web.Error
	if !errors.As(err, &we) || we.Status < 400 || we.Status > 499 {
		t.Fatalf("decode %q: %v, want a 4xx web.Error", body, err)
	}
	return false
}

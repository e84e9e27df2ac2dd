package natstest

import (
	"testing"

	"github.com/acube/platform/libs/testkit"
)

// certs are an authority made for one test and a server certificate it
// signed, as PEM files.
type certs struct {
	caFile, certFile, keyFile string
}

func newCerts(t testing.TB) *certs {
	t.Helper()
	c := &certs{}
	c.caFile, c.certFile, c.keyFile = testkit.NewAuthority(t).Files(t)
	return c
}

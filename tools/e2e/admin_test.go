package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/chaos"
)

// The admin's account security as a person meets it: the bootstrap
// prints a TOTP key, invitations arrive by email (tools/internal/adminflow
// plays both, for these tests and the chaos checker alike).

// bootstrapAdmin creates the first superadmin with the admin binary's
// bootstrap command, the password on standard input, and returns the
// TOTP secret the command enrolled and printed.
func (s *system) bootstrapAdmin(t *testing.T, email, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := adminflow.Bootstrap(ctx, filepath.Join(s.bin, "admin"), s.envOf("admin"), email, "", password)
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

// totpCode is the code an authenticator app shows for secret at a time.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := adminflow.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// invitationToken waits for the invitation email to address and returns
// the token of its link.
func (s *system) invitationToken(t *testing.T, address string) string {
	t.Helper()
	mail := chaos.Sink{S: s.smtp}
	var token string
	testkit.EventuallyErr(t, "an invitation email to "+address, func() error {
		texts, err := mail.Texts(context.Background(), address)
		if err != nil {
			return err
		}
		for _, text := range texts {
			var ok bool
			if token, ok = adminflow.InvitationToken(text); ok {
				return nil
			}
		}
		return fmt.Errorf("%d emails, none an invitation", len(texts))
	}, testkit.Interval(100*time.Millisecond))
	return token
}

// Package adminflow plays the admin service's account security the way
// its people meet it (docs/admin.md): an operator bootstraps the first
// superadmin and keeps the TOTP key the command prints, an authenticator
// app turns that key into codes, an invitee follows the link in the
// invitation email. The end-to-end tests, the chaos checker and the
// production-topology run all go through here, so a change to those
// flows is made once.
package adminflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"
)

// Enrolment is what `admin bootstrap` prints once for the first login:
// the TOTP key and the recovery codes.
type Enrolment struct {
	// Secret is the base32 TOTP key an authenticator app is given.
	Secret string
	// URI is the otpauth:// URI (the QR code's content).
	URI string
	// RecoveryCodes each log in once instead of a code.
	RecoveryCodes []string
}

// Bootstrap creates the first superadmin with the admin binary's bootstrap
// command, as an operator does: the password on standard input, env added
// to this process's environment (the service's database settings). An
// empty name leaves the command's default, the email's local part. It
// returns the TOTP enrolment the command printed.
func Bootstrap(ctx context.Context, adminBin string, env []string, email, name, password string) (Enrolment, error) {
	args := []string{"bootstrap", "--email", email}
	if name != "" {
		args = append(args, "--name", name)
	}
	cmd := exec.CommandContext(ctx, adminBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Enrolment{}, fmt.Errorf("admin bootstrap --email %s: %w\n%s", email, err, out)
	}
	e, err := ParseEnrolment(string(out))
	if err != nil {
		return Enrolment{}, fmt.Errorf("admin bootstrap --email %s: %w", email, err)
	}
	return e, nil
}

// ParseEnrolment reads the "otpauth URI:", "secret:" and "recovery code:"
// lines `admin bootstrap` prints; a missing secret is an error.
func ParseEnrolment(out string) (Enrolment, error) {
	var e Enrolment
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "secret:"); ok {
			e.Secret = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "otpauth URI:"); ok {
			e.URI = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "recovery code:"); ok {
			e.RecoveryCodes = append(e.RecoveryCodes, strings.TrimSpace(v))
		}
	}
	if e.Secret == "" {
		return Enrolment{}, errors.New("the output has no TOTP secret")
	}
	return e, nil
}

// Period is the TOTP time step in seconds (RFC 6238's default, the
// service's and every authenticator app's).
const Period = 30

// Step is the TOTP time step at t. The service accepts a code only for a
// later step than the last one it accepted for the account, so a client
// that logs in twice must wait for the next step (or use a refresh
// token, or a recovery code).
func Step(t time.Time) int64 { return t.Unix() / Period }

// Code is the code an authenticator app shows for secret at t.
func Code(secret string, t time.Time) (string, error) {
	c, err := totp.GenerateCode(secret, t)
	if err != nil {
		return "", fmt.Errorf("totp code: %w", err)
	}
	return c, nil
}

// invitationLink matches the link of the invitation email
// (PUBLIC_BASE_URL + ADMIN_INVITATION_PATH + ?token=…): the token is
// 256 random bits, base64url without padding.
var invitationLink = regexp.MustCompile(`invitation\?token=([A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)`)

// InvitationToken finds the token of the invitation link in an email's
// decoded text, and whether there was one.
func InvitationToken(text string) (string, bool) {
	m := invitationLink.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// RandomPassword is a password nobody needs to know (a run's admins):
// 128 random bits as 32 hex digits, long enough for any length rule, not
// on a common-password list, and without a letter past f, so it contains
// no email local part or name that has one.
func RandomPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b)
}

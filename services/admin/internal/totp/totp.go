// Package totp is the admins' second factor: time-based one-time
// passwords (RFC 6238) as authenticator apps make them, HMAC-SHA1, six
// digits, 30-second steps, through github.com/pquerna/otp. It adds what
// that library leaves to its caller: which time step a code matched, so
// a code accepted once is never accepted again.
package totp

import (
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Parameters every authenticator app understands.
const (
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// Skew is how many steps before and after the current one a code may
	// come from, for clocks that drift and codes typed slowly.
	Skew = 1
	// SecretBytes is the secret's size: 160 bits, as RFC 4226 recommends.
	SecretBytes = 20
)

var opts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Key is a new secret and the otpauth:// URI that carries it to an app
// (as a QR code or typed in).
type Key struct {
	// Secret is base32 without padding, as apps show it.
	Secret string
	// URI is otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...
	URI string
}

// NewKey makes a random secret for account (the admin's email) under
// issuer (the name the app shows).
func NewKey(issuer, account string) (Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: uint(Period / time.Second),
		SecretSize: SecretBytes, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Key{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return Key{Secret: k.Secret(), URI: k.URL()}, nil
}

// Step is the time step t falls in.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the code of secret at step.
func Code(secret string, step int64) (string, error) {
	c, err := hotp.GenerateCodeCustom(secret, uint64(step), opts)
	if err != nil {
		return "", fmt.Errorf("TOTP code: %w", err)
	}
	return c, nil
}

// Match checks code against secret at now, within Skew steps either side,
// accepting only steps after last (the step of the code last accepted for
// this secret; 0 at first). It returns the matched step, which the caller
// stores as the new last, so a code, once used, cannot be replayed while
// it is still current.
func Match(secret, code string, now time.Time, last int64) (int64, bool) {
	if len(code) != Digits {
		return 0, false
	}
	cur := Step(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		if s <= last {
			continue
		}
		want, err := Code(secret, s)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

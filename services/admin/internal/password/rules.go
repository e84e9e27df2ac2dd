package password

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBytes bounds passwords so nobody makes us hash megabytes.
const MaxBytes = 1024

// Rules are what a new password must satisfy (OWASP ASVS 5.0 6.2): long
// enough, not absurdly long, not on the list of common and breached
// passwords, and not built from the holder's own email or name. There
// are no composition rules.
type Rules struct {
	// MinLength counts characters (code points).
	MinLength int
	// Blocklist holds the refused passwords; nil refuses none (tests).
	Blocklist *Blocklist
}

// Check returns why pw may not be chosen by the admin with this email and
// name, or "" when it may.
func (r Rules) Check(pw, email, name string) string {
	switch {
	case utf8.RuneCountInString(pw) < r.MinLength:
		return fmt.Sprintf("must be at least %d characters", r.MinLength)
	case len(pw) > MaxBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxBytes)
	case personal(pw, email, name):
		return "must not contain your email address or name"
	case r.Blocklist.Contains(pw) || r.Blocklist.Contains(strings.TrimSpace(pw)):
		return "is too common: it is on a list of breached passwords; choose another"
	}
	return ""
}

// personal reports whether pw contains the email's local part or the
// name (ignoring case), when those are long enough to mean something.
func personal(pw, email, name string) bool {
	lower := strings.ToLower(pw)
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	for _, s := range []string{local, strings.ToLower(strings.TrimSpace(name))} {
		if utf8.RuneCountInString(s) >= 3 && strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

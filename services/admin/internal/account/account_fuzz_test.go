package account

import (
	"errors"
	"net/mail"
	"testing"
	"unicode/utf8"
)

// FuzzNewAccount feeds arbitrary accounts to the creation rules: an
// accepted account has a normalised, parseable email, a 1–100 character
// name, a known role and a password within the length rules; a refused
// one is a ValidationError naming fields.
func FuzzNewAccount(f *testing.F) {
	f.Add("new@example.org", "New", RoleAdmin, "a long enough password")
	f.Add(" NEW@Example.org ", " N ", RoleSuperadmin, "new@example.org")
	f.Add("a@b", "", "root", "")
	f.Add("\"q\"@example.org", "\xff", RoleAdmin, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	f.Fuzz(func(t *testing.T, email, name, role, pw string) {
		n := NewAccount{Email: email, Name: name, Role: role, Password: pw}
		err := n.validate(12)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("validate: %v, want a ValidationError with fields", err)
			}
			return
		}
		if a, perr := mail.ParseAddress(n.Email); perr != nil || a.Address != n.Email || n.Email != NormalizeEmail(n.Email) {
			t.Fatalf("accepted email %q", n.Email)
		}
		if c := utf8.RuneCountInString(n.Name); c < 1 || c > 100 {
			t.Fatalf("accepted name %q", n.Name)
		}
		if n.Role != RoleAdmin && n.Role != RoleSuperadmin {
			t.Fatalf("accepted role %q", n.Role)
		}
		if utf8.RuneCountInString(pw) < 12 || len(pw) > MaxPasswordBytes {
			t.Fatalf("accepted a password of %d bytes", len(pw))
		}
	})
}

// FuzzLoginFields checks the login form's own checks: they refuse what
// would be pointless or costly to hash and nothing else.
func FuzzLoginFields(f *testing.F) {
	f.Add("ada@example.org", "pw")
	f.Add("", "")
	f.Add("a@b.org", string(make([]byte, MaxPasswordBytes+1)))
	f.Fuzz(func(t *testing.T, email, pw string) {
		email = NormalizeEmail(email)
		fields := loginFields(email, pw)
		wantBad := email == "" || len(email) > 254 || pw == "" || len(pw) > MaxPasswordBytes
		if (fields != nil) != wantBad {
			t.Fatalf("loginFields(%q, %d bytes) = %v", email, len(pw), fields)
		}
	})
}

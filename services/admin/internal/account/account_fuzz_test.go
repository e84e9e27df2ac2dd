package account

import (
	"errors"
	"net/mail"
	"testing"
	"unicode/utf8"

	"github.com/acube/platform/services/admin/internal/password"
)

// FuzzNewAccount feeds arbitrary accounts to the creation rules: an
// accepted invitee has a normalised, parseable email, a 1–100 character
// name and a known role; an accepted bootstrap account also has a
// password within the rules; a refused one is a ValidationError naming
// fields.
func FuzzNewAccount(f *testing.F) {
	f.Add("new@example.org", "New", RoleAdmin, "a long enough password")
	f.Add(" NEW@Example.org ", " N ", RoleSuperadmin, "new@example.org")
	f.Add("a@b", "", "root", "")
	f.Add("\"q\"@example.org", "\xff", RoleAdmin, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	rules := password.Rules{MinLength: 12, Blocklist: password.NewBlocklist([]string{"password1234"})}
	f.Fuzz(func(t *testing.T, email, name, role, pw string) {
		refused := func(err error) bool {
			if err == nil {
				return false
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("validate: %v, want a ValidationError with fields", err)
			}
			return true
		}
		in := Invitee{Email: email, Name: name, Role: role}
		if !refused(in.validate()) {
			if a, perr := mail.ParseAddress(in.Email); perr != nil || a.Address != in.Email || in.Email != NormalizeEmail(in.Email) {
				t.Fatalf("accepted email %q", in.Email)
			}
			if c := utf8.RuneCountInString(in.Name); c < 1 || c > 100 {
				t.Fatalf("accepted name %q", in.Name)
			}
			if in.Role != RoleAdmin && in.Role != RoleSuperadmin {
				t.Fatalf("accepted role %q", in.Role)
			}
		}
		n := NewAccount{Email: email, Name: name, Password: pw}
		if !refused(n.validate(rules)) {
			if utf8.RuneCountInString(pw) < 12 || len(pw) > MaxPasswordBytes || rules.Blocklist.Contains(pw) {
				t.Fatalf("accepted a password of %d bytes", len(pw))
			}
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

package booking

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on submitted text, in characters.
const (
	maxEmail   = 254
	maxName    = 200
	maxPhone   = 32
	maxMessage = 5000
	maxTitle   = 200
	maxPlace   = 300
)

// checkEmail trims and validates an address with net/mail, and refuses
// display names, comments and dotless domains that net/mail accepts.
func checkEmail(fields map[string]string, v string) string {
	v = strings.TrimSpace(v)
	switch addr, err := mail.ParseAddress(v); {
	case v == "":
		fields["email"] = "is required"
	case !utf8.ValidString(v):
		fields["email"] = "must be valid UTF-8"
	case utf8.RuneCountInString(v) > maxEmail:
		fields["email"] = "must be at most 254 characters"
	case err != nil || addr.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@'):], "."):
		fields["email"] = "must be a single valid email address, like name@example.org"
	}
	return v
}

// checkPhone trims and validates a phone number; required says whether an
// empty one is an error.
func checkPhone(fields map[string]string, v string, required bool) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "" && !required:
	case v == "":
		fields["phone"] = "is required"
	case len(v) > maxPhone || !validPhone(v):
		fields["phone"] = "must be 7 to 15 digits, optionally with a leading + and spaces, dashes, dots or parentheses"
	}
	return v
}

// checkText trims v, enforces its length and refuses control characters;
// multiline text (long fields) may hold newlines and tabs.
func checkText(fields map[string]string, name, v string, max int, required bool) string {
	v = strings.TrimSpace(v)
	multiline := max > maxName
	switch {
	case v == "" && required:
		fields[name] = "is required"
	case !utf8.ValidString(v):
		fields[name] = "must be valid UTF-8"
	case utf8.RuneCountInString(v) > max:
		fields[name] = "must be at most " + strconv.Itoa(max) + " characters"
	default:
		for _, r := range v {
			if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
				fields[name] = "must not contain control characters"
				break
			}
		}
	}
	return v
}

func validPhone(p string) bool {
	digits := 0
	for i, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}

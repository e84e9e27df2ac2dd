package managelink

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Placeholders of a link template.
const (
	PlaceholderID    = "{id}"
	PlaceholderToken = "{token}"
)

// Default page paths of the links emailed to people: the pages booking
// serves (services/booking/internal/pages), joined to the public base
// URL. The JSON endpoints (/api/sessions/{id}?token=…, SessionURL) stay
// for API clients.
const (
	SessionPagePath      = "/manage/sessions/{id}?token={token}"
	RegistrationPagePath = "/manage/registrations/{id}?token={token}"
)

// Template is the URL a manage link is made from, e.g.
// https://acube.example/manage/sessions/{id}?token={token}: an
// organisation with its own front end points its links there instead
// of booking's pages. Expand fills in the record's id (path-escaped) and
// the token (query-escaped).
type Template struct {
	raw string
}

// ParseTemplate checks raw: an absolute http(s) URL with a host, holding
// {id} and {token} once each, and nothing else that could break out of
// the URL once they are filled in.
func ParseTemplate(raw string) (Template, error) {
	bad := func(why string) (Template, error) {
		return Template{}, fmt.Errorf("link template %q: %s", raw, why)
	}
	if strings.Count(raw, PlaceholderID) != 1 || strings.Count(raw, PlaceholderToken) != 1 {
		return bad("want {id} and {token} once each")
	}
	if strings.ContainsAny(raw, " \t\r\n\"'<>\\`") {
		return bad("has spaces, quotes or angle brackets")
	}
	u, err := url.Parse(strings.NewReplacer(PlaceholderID, "id", PlaceholderToken, "token").Replace(raw))
	if err != nil {
		return bad(err.Error())
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return bad("want an absolute http(s) URL with a host and no user")
	}
	return Template{raw: raw}, nil
}

// PageTemplate joins a default page path (SessionPagePath,
// RegistrationPagePath) to base, the public origin.
func PageTemplate(base, path string) (Template, error) {
	return ParseTemplate(strings.TrimSuffix(base, "/") + path)
}

// String is the template as configured.
func (t Template) String() string { return t.raw }

// Expand is the link of record id with token.
func (t Template) Expand(id, token string) string {
	return strings.NewReplacer(PlaceholderID, url.PathEscape(id), PlaceholderToken, url.QueryEscape(token)).Replace(t.raw)
}

// Link is the manage link of record (kind, id), valid until expires, made
// from t.
func (s *Signer) Link(t Template, kind, id string, expires time.Time) (string, error) {
	if t.raw == "" {
		return "", errors.New("manage link template is not set")
	}
	return t.Expand(id, s.Sign(kind, id, expires)), nil
}

// Expiry is the expiry a token claims, unchecked: only for choosing the
// words of a page (expired or not valid) after Verify refused the token.
// It never opens anything.
func Expiry(token string) (time.Time, bool) {
	exp, _, ok := strings.Cut(token, ".")
	if !ok || len(exp) == 0 || len(exp) > 12 {
		return time.Time{}, false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || unix < 0 {
		return time.Time{}, false
	}
	return time.Unix(unix, 0), true
}

// Package managelink signs and checks the manage links a booker or registrant
// receives by email: a token that proves "whoever holds this may view or
// cancel record id of this kind until this time", without a login.
//
// A token is "<expiry unix seconds>.<base64url HMAC-SHA256>" where the MAC
// covers kind, id and expiry. The kind keeps a session's token from
// opening a registration with the same id; the expiry in the MAC keeps a
// holder from extending it. Tokens are compared in constant time.
package managelink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kinds of record a link may open.
const (
	KindSession      = "session"
	KindRegistration = "registration"
)

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 32

// ErrInvalid covers every token that does not open the record: malformed,
// forged, for another record or kind, or expired.
var ErrInvalid = errors.New("invalid or expired link token")

// Signer makes and checks tokens with one secret.
type Signer struct {
	secret []byte
}

// NewSigner returns a Signer over secret, which must be at least
// MinSecretLen bytes.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("link secret must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	return &Signer{secret: append([]byte(nil), secret...)}, nil
}

// Sign returns a token for (kind, id) valid until expires.
func (s *Signer) Sign(kind, id string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(s.mac(kind, id, exp))
}

// Verify checks that token opens (kind, id) at now.
func (s *Signer) Verify(kind, id, token string, now time.Time) error {
	exp, sig, ok := strings.Cut(token, ".")
	if !ok || len(exp) == 0 || len(exp) > 12 || len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return ErrInvalid
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || strconv.FormatInt(unix, 10) != exp {
		return ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(kind, id, exp)) {
		return ErrInvalid
	}
	if !now.Before(time.Unix(unix, 0)) {
		return ErrInvalid
	}
	return nil
}

func (s *Signer) mac(kind, id, exp string) []byte {
	m := hmac.New(sha256.New, s.secret)
	// Newlines cannot occur in a kind, a UUID or a number, so the fields
	// cannot run into each other.
	m.Write([]byte(kind + "\n" + id + "\n" + exp))
	return m.Sum(nil)
}

// LoadOrCreateSecret returns configured when it is set; otherwise the
// secret in dir/link-secret, created with a random value on first use so
// links sent in development keep working across restarts. The file holds
// hex and is readable by its owner only.
func LoadOrCreateSecret(configured, dir string) ([]byte, error) {
	if configured != "" {
		return []byte(configured), nil
	}
	path := filepath.Join(dir, "link-secret")
	if raw, err := os.ReadFile(path); err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("read link secret %s: %w", path, err)
		}
		return secret, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read link secret %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate link secret: %w", err)
	}
	// Written whole to a temporary file, then linked into place: a
	// replica racing us either wins (and we read its secret) or loses,
	// and nobody ever reads a half-written file.
	tmp, err := os.CreateTemp(dir, ".link-secret-*")
	if err != nil {
		return nil, fmt.Errorf("create link secret in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // only the link remains
	if _, err := tmp.WriteString(hex.EncodeToString(secret) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write link secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write link secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecret("", dir)
	} else if err != nil {
		return nil, fmt.Errorf("create link secret %s: %w", path, err)
	}
	return secret, nil
}

// SessionURL is the JSON API link of session id, valid until expires,
// under base (the public origin, e.g. https://acube.example): the gateway
// routes base/api/sessions/{id}?token=… to booking, which verifies it.
// It is for API clients; the links emailed to people open pages (Link
// with SessionPagePath or an organisation's template).
func (s *Signer) SessionURL(base, id string, expires time.Time) string {
	return manageURL(base, "/api/sessions/", id, s.Sign(KindSession, id, expires))
}

// RegistrationURL is the manage link of registration id, valid until
// expires, under base; see SessionURL.
func (s *Signer) RegistrationURL(base, id string, expires time.Time) string {
	return manageURL(base, "/api/registrations/", id, s.Sign(KindRegistration, id, expires))
}

func manageURL(base, path, id, token string) string {
	return strings.TrimSuffix(base, "/") + path + url.PathEscape(id) + "?token=" + url.QueryEscape(token)
}

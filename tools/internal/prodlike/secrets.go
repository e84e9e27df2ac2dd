package prodlike

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"sync"
)

// Secrets stands in for the Kubernetes Secrets the manifests reference by
// name and key: they are never in the repository (docs/operations.md,
// "Secrets"), so each value is made up locally the first time it is asked
// for, in the form the key calls for, and then kept, so that the server
// that checks a password and the service that sends it agree. The
// infrastructure sets the values it owns first (the database roles'
// passwords, the Redis URL) with Set.
type Secrets struct {
	mu   sync.Mutex
	data map[string]map[string]string
	// gens make the value of one name/key, or of a key in any Secret
	// ("*/key"), instead of a random password.
	gens map[string]func() (string, error)
}

// NewSecrets returns an empty store that makes up what it is asked for.
func NewSecrets() *Secrets {
	s := &Secrets{data: map[string]map[string]string{}, gens: map[string]func() (string, error){}}
	s.gens["*/signing.pem"] = ed25519PEM
	s.gens["*/link-secret"] = func() (string, error) { return randomBase64(32) }
	return s
}

// Generator makes f produce the value of nameKey ("secret/key", or
// "*/key" for that key in any Secret) when it is first asked for: the
// hook for values with a shape, such as NATS NKey seeds.
func (s *Secrets) Generator(nameKey string, f func() (string, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gens[nameKey] = f
}

// Set stores a value.
func (s *Secrets) Set(name, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data[name] == nil {
		s.data[name] = map[string]string{}
	}
	s.data[name][key] = value
}

// Get returns the value of key in Secret name, making it up if it is not
// known yet.
func (s *Secrets) Get(name, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.data[name][key]; ok {
		return v, nil
	}
	gen := s.gens[name+"/"+key]
	if gen == nil {
		gen = s.gens["*/"+key]
	}
	if gen == nil {
		gen = func() (string, error) { return randomAlnum(24) }
	}
	v, err := gen()
	if err != nil {
		return "", fmt.Errorf("make up secret %s/%s: %w", name, key, err)
	}
	if s.data[name] == nil {
		s.data[name] = map[string]string{}
	}
	s.data[name][key] = v
	return v, nil
}

// Keys lists the keys of Secret name known so far.
func (s *Secrets) Keys(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.data[name] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// randomAlnum returns n random letters and digits: docs/operations.md asks
// for passwords of letters and digits, since they go into URLs unescaped.
func randomAlnum(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

func randomBase64(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ed25519PEM is a new Ed25519 private key in PKCS#8 PEM, what
// `openssl genpkey -algorithm ed25519` writes (the admin signing key).
func ed25519PEM() (string, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// Package token issues admin access tokens (Ed25519-signed JWTs) and
// opaque refresh tokens, and manages the signing keys and the public key
// set other services verify against.
package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/acube/platform/libs/authn"
)

// Keys are the current signing key and every public key still accepted
// (the current one and those being rotated out).
type Keys struct {
	signing ed25519.PrivateKey
	kid     string
	public  map[string]ed25519.PublicKey
}

// NewKeys builds a key set from the signing key and older public keys.
func NewKeys(signing ed25519.PrivateKey, older ...ed25519.PublicKey) *Keys {
	pub := signing.Public().(ed25519.PublicKey)
	k := &Keys{signing: signing, kid: authn.Thumbprint(pub), public: map[string]ed25519.PublicKey{}}
	k.public[k.kid] = pub
	for _, p := range older {
		k.public[authn.Thumbprint(p)] = p
	}
	return k
}

// KeyID is the kid of the signing key.
func (k *Keys) KeyID() string { return k.kid }

// Derive returns a 32-byte secret for purpose, derived from the signing
// key (HMAC-SHA256 of its seed): every replica holding the same signing
// key derives the same secret, and it changes when the key is rotated.
func (k *Keys) Derive(purpose string) []byte {
	mac := hmac.New(sha256.New, k.signing.Seed())
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// Public returns every accepted public key by kid, for a verifier.
func (k *Keys) Public() map[string]ed25519.PublicKey { return k.public }

// JWKS is the public key set served to other services.
func (k *Keys) JWKS() authn.JWKS {
	set := authn.JWKS{Keys: []authn.JWK{authn.NewJWK(k.public[k.kid])}}
	for kid, p := range k.public {
		if kid != k.kid {
			set.Keys = append(set.Keys, authn.NewJWK(p))
		}
	}
	return set
}

// LoadOrCreate reads the PEM signing key at path, or, when path is empty,
// the one under dataDir, generating and saving it (mode 0600) the first
// time, so a development restart keeps issued tokens valid. It reports
// whether a key was generated.
func LoadOrCreate(path, dataDir string) (ed25519.PrivateKey, bool, error) {
	if path != "" {
		k, err := readPrivate(path)
		return k, false, err
	}
	path = filepath.Join(dataDir, "signing-key.pem")
	k, err := readPrivate(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("encode signing key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	// O_EXCL: two replicas starting at once must not overwrite each other.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		k, err := readPrivate(path)
		return k, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create signing key %s: %w", path, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("write signing key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write signing key %s: %w", path, err)
	}
	return priv, true, nil
}

// LoadPublic reads a PEM public key, or the public half of a private key,
// for a key being rotated out.
func LoadPublic(path string) (ed25519.PublicKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var k crypto.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "PRIVATE KEY":
		var priv any
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if p, ok := priv.(ed25519.PrivateKey); ok {
			k = p.Public()
		}
	default:
		return nil, fmt.Errorf("key %s: unexpected PEM block %q", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key %s is not Ed25519", path)
	}
	return pub, nil
}

func readPrivate(path string) (ed25519.PrivateKey, error) {
	block, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not Ed25519", path)
	}
	return priv, nil
}

func readPEM(path string) (*pem.Block, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("key %s holds no PEM block", path)
	}
	return block, nil
}

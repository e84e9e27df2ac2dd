package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Authority is a certificate authority made for one test and a server
// certificate it signed for 127.0.0.1, localhost and sink.test, valid for
// an hour either side of now.
type Authority struct {
	ca      *x509.Certificate
	leafDER []byte
	key     *ecdsa.PrivateKey
}

// NewAuthority makes an Authority; it fails t if a key or certificate
// cannot be made.
func NewAuthority(t testing.TB) *Authority {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testkit: CA key: %v", err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testkit CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("testkit: CA certificate: %v", err)
	}
	a := &Authority{}
	if a.ca, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatalf("testkit: CA certificate: %v", err)
	}
	if a.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatalf("testkit: server key: %v", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost", "sink.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if a.leafDER, err = x509.CreateCertificate(rand.Reader, leaf, a.ca, &a.key.PublicKey, caKey); err != nil {
		t.Fatalf("testkit: server certificate: %v", err)
	}
	return a
}

// Configs returns a server config presenting the server certificate and a
// client config that trusts the authority and only it, for 127.0.0.1. Both
// require TLS 1.2 or later.
func (a *Authority) Configs() (server, client *tls.Config) {
	roots := x509.NewCertPool()
	roots.AddCert(a.ca)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{a.leafDER, a.ca.Raw}, PrivateKey: a.key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

// Files writes the authority's certificate, the server certificate and its
// key as PEM files in a directory of t's and returns their paths: what a
// server configured by file (nats-server, say) reads.
func (a *Authority) Files(t testing.TB) (caFile, certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(a.key)
	if err != nil {
		t.Fatalf("testkit: server key: %v", err)
	}
	dir := t.TempDir()
	caFile, certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for path, block := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: a.ca.Raw},
		certFile: {Type: "CERTIFICATE", Bytes: a.leafDER},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatalf("testkit: %v", err)
		}
	}
	return caFile, certFile, keyFile
}

// TLS returns the Configs of a new Authority: a server config and a client
// config that trusts it and only it.
func TLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	return NewAuthority(t).Configs()
}

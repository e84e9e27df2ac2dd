package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
)

// handshake serves one TLS connection with server and dials it with
// client, returning the client's handshake error.
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		return err
	}
	return c.Close()
}

func TestTLSConfigsTrustEachOtherOnly(t *testing.T) {
	server, client := TLS(t)
	if err := handshake(t, server, client); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	other, _ := TLS(t)
	if err := handshake(t, other, client); err == nil {
		t.Error("the client trusted another authority's server")
	}
}

func TestAuthorityFiles(t *testing.T) {
	a := NewAuthority(t)
	caFile, certFile, keyFile := a.Files(t)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("load the server pair: %v", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("the CA file holds no certificate")
	}
	for _, name := range []string{"127.0.0.1", "localhost", "sink.test"} {
		server := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		client := &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}
		if err := handshake(t, server, client); err != nil {
			t.Errorf("handshake for %s: %v", name, err)
		}
	}
}

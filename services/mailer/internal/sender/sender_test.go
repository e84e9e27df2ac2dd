package sender_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
)

var from = &netmail.Address{Name: "A-Cube", Address: "no-reply@acube.local"}

func message(to, name, subject string) email.Message {
	id := uuid.New()
	return email.Message{
		EventID: id, EventType: events.TypeSessionBooked, Template: "session_confirmation",
		To: netmail.Address{Name: name, Address: to}, Subject: subject,
		HTML: "<p>Hello</p>", Text: "Hello\r\n.\r\nnot the end", MessageID: email.MessageID(id, to, "acube.local"),
	}
}

func newSMTP(t *testing.T, sink *smtptest.Sink, cfg sender.SMTPConfig) *sender.SMTP {
	t.Helper()
	cfg.Host, cfg.Port = sink.Host(), sink.Port()
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	s, err := sender.NewSMTP(cfg, from, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBuildKeepsCRLFOutOfHeaders(t *testing.T) {
	// The composer already flattens names and subjects; go-mail is the
	// second line of defence, so feed it raw CR/LF.
	m := message("user@example.com", "Eve\r\nBcc: victim@evil.example", "Hi\r\nBcc: victim@evil.example\r\n\r\n<body>")
	msg, err := sender.Build(m, from)
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := msg.WriteTo(&raw); err != nil {
		t.Fatal(err)
	}
	parsed, err := netmail.ReadMessage(&raw)
	if err != nil {
		t.Fatal(err)
	}
	if v := parsed.Header.Get("Bcc"); v != "" {
		t.Fatalf("Bcc header injected: %q", v)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
	if err != nil || subj != m.Subject {
		t.Errorf("subject reads back as %q (%v), want the encoded original", subj, err)
	}
	if got := parsed.Header.Get("Message-Id"); got != "<"+m.MessageID+">" {
		t.Errorf("Message-ID = %q, want <%s>", got, m.MessageID)
	}
}

func TestIntegrationSMTPReusesConnection(t *testing.T) {
	t.Parallel()
	sink := smtptest.New(t, smtptest.Options{})
	s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1})
	ctx := context.Background()
	for i := range 5 {
		if _, err := s.Send(ctx, message("user@example.com", "User", "Hello")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n, c := sink.Count(), sink.Connections(); n != 5 || c != 1 {
		t.Errorf("sink got %d messages over %d connections, want 5 over 1", n, c)
	}
	// A dropped connection (server restart, idle timeout) is redialed
	// without failing the send.
	sink.DropConnections()
	if _, err := s.Send(ctx, message("user@example.com", "User", "Hello")); err != nil {
		t.Fatalf("send after the connection dropped: %v", err)
	}
	if n, c := sink.Count(), sink.Connections(); n != 6 || c != 2 {
		t.Errorf("sink got %d messages over %d connections, want 6 over 2", n, c)
	}
	if got := sink.Messages()[0].Data; !bytes.Contains(got, []byte("\r\n..\r\n")) && !bytes.Contains(got, []byte("\r\n.\r\n")) {
		t.Errorf("lone dot line lost: %q", got)
	}
}

func TestIntegrationSMTPClassifiesFailures(t *testing.T) {
	t.Parallel()
	sink := smtptest.New(t, smtptest.Options{Rcpt: func(to string) error {
		switch to {
		case "gone@example.com":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case "full@example.com":
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		}
		return nil
	}})
	s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1})
	tests := []struct {
		name     string
		to       string
		wantKind string
		wantCode int
	}{
		{name: "5xx is permanent", to: "gone@example.com", wantKind: sender.KindPermanent, wantCode: 550},
		{name: "4xx is transient", to: "full@example.com", wantKind: sender.KindTransient, wantCode: 452},
		{name: "the connection still works", to: "user@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Send(context.Background(), message(tt.to, "", "Hello"))
			if tt.wantKind == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				return
			}
			var se *sender.Error
			if !errors.As(err, &se) || se.Kind != tt.wantKind || se.Code != tt.wantCode {
				t.Fatalf("error %v, want %s with code %d", err, tt.wantKind, tt.wantCode)
			}
		})
	}
	if c := sink.Connections(); c != 1 {
		t.Errorf("refusals cost %d connections, want 1", c)
	}
}

func TestIntegrationSMTPNetworkFailureIsTransient(t *testing.T) {
	t.Parallel()
	sink := smtptest.New(t, smtptest.Options{})
	s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1, Timeout: 2 * time.Second})
	_ = sink.Close()
	_, err := s.Send(context.Background(), message("user@example.com", "", "Hello"))
	if got := sender.Kind(err); err == nil || got != sender.KindTransient {
		t.Fatalf("error %v of kind %s, want transient", err, got)
	}
}

func TestIntegrationSMTPTLSAndAuth(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := certificates(t)
	tests := []struct {
		name     string
		implicit bool
		mode     string
		user     string
		pass     string
		wantErr  bool
	}{
		{name: "starttls with auth", mode: sender.TLSStartTLS, user: "mailer", pass: "s3cret"},
		{name: "implicit tls with auth", implicit: true, mode: sender.TLSImplicit, user: "mailer", pass: "s3cret"},
		{name: "wrong password", mode: sender.TLSStartTLS, user: "mailer", pass: "wrong", wantErr: true},
		{name: "starttls required but plain server", mode: sender.TLSStartTLS, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := smtptest.Options{TLSConfig: serverTLS, ImplicitTLS: tt.implicit, Username: "mailer", Password: "s3cret"}
			if tt.name == "starttls required but plain server" {
				opts = smtptest.Options{}
			}
			sink := smtptest.New(t, opts)
			s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1, TLS: tt.mode, TLSConfig: clientTLS, Username: tt.user, Password: tt.pass})
			_, err := s.Send(context.Background(), message("user@example.com", "", "Hello"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("send error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && sender.Kind(err) != sender.KindTransient {
				t.Errorf("connection-level failure %v should be transient", err)
			}
			if !tt.wantErr && sink.Count() != 1 {
				t.Errorf("sink got %d messages, want 1", sink.Count())
			}
		})
	}
}

func TestIntegrationSMTPConcurrentSends(t *testing.T) {
	t.Parallel()
	sink := smtptest.New(t, smtptest.Options{Discard: true})
	s := newSMTP(t, sink, sender.SMTPConfig{Conns: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for range 6 {
		wg.Go(func() {
			for range 10 {
				if _, err := s.Send(context.Background(), message("user@example.com", "", "Hello")); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, c := sink.Count(), sink.Connections(); n != 60 || c > 3 {
		t.Errorf("sink got %d messages over %d connections, want 60 over at most 3", n, c)
	}
}

// certificates makes a self-signed certificate for 127.0.0.1 and the
// client config that trusts it.
func certificates(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"sink.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

func TestKind(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "permanent", err: &sender.Error{Kind: sender.KindPermanent}, want: sender.KindPermanent},
		{name: "wrapped transient", err: fmt.Errorf("send: %w", &sender.Error{Kind: sender.KindTransient}), want: sender.KindTransient},
		{name: "unclassified", err: io.EOF, want: sender.KindTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sender.Kind(tt.err); got != tt.want {
				t.Errorf("Kind(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
	if !strings.Contains((&sender.Error{Kind: "permanent", Err: io.EOF}).Error(), "EOF") {
		t.Error("Error hides its cause")
	}
}

// TestIntegrationSMTPSendDeadline: the send deadline starts when the
// email has a connection, so waiting for one never uses it up; a send
// that outlives it is cut off by closing its connection, as transient.
func TestIntegrationSMTPSendDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		delay       time.Duration
		sendTimeout time.Duration
		sends       int
		wantErrs    int
	}{
		// The last of ten waits nine delays for the one connection, longer
		// than its deadline, and is still sent.
		{name: "waiting for the connection is not sending", delay: 250 * time.Millisecond, sendTimeout: 1500 * time.Millisecond, sends: 10},
		{name: "a send past its deadline is cut off", delay: 5 * time.Second, sendTimeout: 100 * time.Millisecond, sends: 1, wantErrs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sink := smtptest.New(t, smtptest.Options{Delay: tt.delay})
			s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1, SendTimeout: tt.sendTimeout})
			errs := make(chan error, tt.sends)
			for i := range tt.sends {
				go func() {
					_, err := s.Send(context.Background(), message(fmt.Sprintf("user%d@example.com", i), "User", "Hello"))
					errs <- err
				}()
			}
			var failed int
			for range tt.sends {
				if err := <-errs; err != nil {
					failed++
					if sender.Kind(err) != sender.KindTransient {
						t.Errorf("error %v is not transient", err)
					}
				}
			}
			if failed != tt.wantErrs {
				t.Errorf("%d sends failed, want %d", failed, tt.wantErrs)
			}
		})
	}
}

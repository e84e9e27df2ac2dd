// Package smtptest runs a real SMTP server inside the test process
// (emersion/go-smtp) that keeps what it receives, so tests of email
// delivery talk SMTP over TCP exactly as production does.
package smtptest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received email.
type Message struct {
	From   string
	To     []string
	Header mail.Header
	Raw    []byte
}

// Server is an in-process SMTP server on a loopback port.
type Server struct {
	srv *smtp.Server
	ln  net.Listener

	mu     sync.Mutex
	msgs   []Message
	reject map[string]*smtp.SMTPError
}

// Start serves SMTP on a free loopback port until the test ends. It skips
// under -short.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("runs an SMTP server; skipped under -short")
	}
	s := &Server{reject: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.srv, s.ln = srv, ln
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Host and Port of the server.
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Reject makes RCPT TO for addr fail with the given SMTP code, e.g. 550 for
// a permanent failure or 451 for a transient one.
func (s *Server) Reject(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[addr] = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "rejected by test"}
}

// Messages returns what was received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until at least n messages arrived and returns them all; the
// 30-second bound only catches a hung test.
func (s *Server) WaitFor(t testing.TB, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if msgs := s.Messages(); len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: %d messages after 30s, want %d", len(s.Messages()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	rej := x.s.reject[to]
	x.s.mu.Unlock()
	if rej != nil {
		return rej
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return errors.New("smtptest: unparseable message: " + err.Error())
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: x.to, Header: m.Header, Raw: raw})
	x.s.mu.Unlock()
	return nil
}

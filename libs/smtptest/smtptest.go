// Package smtptest runs a real SMTP server (emersion/go-smtp) in process,
// for tests and the benchmark: it records or counts what it receives and
// can refuse chosen recipients with any reply code.
package smtptest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one email the sink accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Options shape the sink.
type Options struct {
	// Rcpt, when set, decides each RCPT TO: a non-nil *smtp.SMTPError is
	// the reply (e.g. 550 or 451).
	Rcpt func(to string) error
	// Discard counts messages without keeping them, for the benchmark.
	Discard bool
	// Spool, when set, makes the sink behave like a real MTA: each message
	// is written to a file in this directory and fsynced before the 250
	// reply (RFC 5321 §6.1: accepting a message is taking responsibility).
	Spool string
	// TLSConfig enables STARTTLS, or implicit TLS with ImplicitTLS.
	TLSConfig *tls.Config
	// ImplicitTLS makes the listener speak TLS from the first byte, as
	// on port 465; it needs TLSConfig.
	ImplicitTLS bool
	// Username and Password, when set, make AUTH PLAIN mandatory.
	Username, Password string
	// Delay holds each message this long after its data arrived and
	// before the 250 reply, as a slow server does; zero replies at once.
	Delay time.Duration
}

// Sink is a running SMTP server.
type Sink struct {
	opts Options
	srv  *smtp.Server
	ln   net.Listener

	mu      sync.Mutex
	msgs    []Message
	count   int
	conns   int
	open    map[net.Conn]struct{}
	changed chan struct{} // closed and replaced on every accepted message
}

// Start listens on a free loopback port and serves until Close.
func Start(opts Options) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	s := &Sink{opts: opts, ln: ln, changed: make(chan struct{}), open: map[net.Conn]struct{}{}}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "sink.test"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.TLSConfig = opts.TLSConfig
	var served net.Listener = &trackingListener{Listener: ln, sink: s}
	if opts.ImplicitTLS {
		served = tls.NewListener(served, opts.TLSConfig)
	}
	go func() { _ = s.srv.Serve(served) }() // returns when Close stops it
	return s, nil
}

// New starts a sink for the test and closes it when the test ends. It
// skips under -short, like every test that needs a server.
func New(t testing.TB, opts Options) *Sink {
	t.Helper()
	if testing.Short() {
		t.Skip("needs an SMTP server; skipped under -short")
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Host and Port say where the sink listens.
func (s *Sink) Host() string { return "127.0.0.1" }

// Port is the sink's TCP port.
func (s *Sink) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Addr is host:port.
func (s *Sink) Addr() string { return net.JoinHostPort(s.Host(), strconv.Itoa(s.Port())) }

// Close stops the server and drops its connections.
func (s *Sink) Close() error {
	_ = s.ln.Close() // Serve may not have registered it yet
	s.DropConnections()
	// The listener is closed already (above): its second close is no
	// failure of the sink.
	if err := s.srv.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("smtptest: close: %w", err)
	}
	return nil
}

// DropConnections closes every open connection abruptly, as a server
// restart or an idle timeout would, and keeps listening.
func (s *Sink) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.open {
		_ = c.Close()
		delete(s.open, c)
	}
}

// Messages returns a copy of the accepted messages, in order.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count is how many messages were accepted.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Connections is how many SMTP sessions were opened, to check reuse.
func (s *Sink) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// WaitCount waits until at least n messages were accepted or ctx ends.
func (s *Sink) WaitCount(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		count, changed := s.count, s.changed
		s.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("smtptest: %d of %d messages: %w", count, n, ctx.Err())
		}
	}
}

func (s *Sink) newSession(*smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &session{sink: s}, nil
}

func (s *Sink) accept(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if !s.opts.Discard {
		s.msgs = append(s.msgs, m)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

type session struct {
	sink   *Sink
	authed bool
	msg    Message
}

var _ smtp.AuthSession = (*session)(nil)

// AuthMechanisms offers PLAIN when the sink has credentials.
func (ss *session) AuthMechanisms() []string {
	if ss.sink.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth checks PLAIN credentials against the sink's.
func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.sink.opts.Username || pass != ss.sink.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.authed = true
		return nil
	}), nil
}

// Mail starts a message; it needs AUTH when the sink has credentials.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.sink.opts.Username != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.msg = Message{From: from}
	return nil
}

// Rcpt adds a recipient unless Options.Rcpt refuses it.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.sink.opts.Rcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.msg.To = append(ss.msg.To, to)
	return nil
}

// Data receives the message and counts it.
func (ss *session) Data(r io.Reader) error {
	var (
		b   []byte
		err error
	)
	switch {
	case ss.sink.opts.Spool != "":
		err = spool(ss.sink.opts.Spool, r)
	case ss.sink.opts.Discard:
		_, err = io.Copy(io.Discard, r)
	default:
		b, err = io.ReadAll(r)
	}
	if err != nil {
		return err
	}
	if d := ss.sink.opts.Delay; d > 0 {
		time.Sleep(d) // the slow server the option asks for
	}
	ss.msg.Data = b
	ss.sink.accept(ss.msg)
	ss.msg = Message{}
	return nil
}

// Reset drops the message in progress.
func (ss *session) Reset() { ss.msg = Message{} }

// Logout ends the session.
func (ss *session) Logout() error { return nil }

// trackingListener remembers accepted connections so DropConnections can
// cut them.
type trackingListener struct {
	net.Listener
	sink *Sink
}

// Accept records each connection it returns.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.sink.mu.Lock()
	l.sink.open[c] = struct{}{}
	l.sink.mu.Unlock()
	return c, nil
}

// spool writes one message durably into dir.
func spool(dir string, r io.Reader) error {
	f, err := os.CreateTemp(dir, "msg-*.eml")
	if err != nil {
		return fmt.Errorf("smtptest: spool: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("smtptest: spool: %w", err)
	}
	return nil
}

package smtptest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/acube/platform/libs/testkit"
)

// send delivers one message over c.
func send(c *smtp.Client, from string, to []string, body string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	return w.Close()
}

// dial opens a plain SMTP session to s, closed when the test ends.
func dial(t *testing.T, s *Sink) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// code is the SMTP reply code of err, or 0.
func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestSinkRecords: messages are kept in order with their envelope, one
// session carries several, and WaitCount returns once they are in.
func TestSinkRecords(t *testing.T) {
	t.Parallel()
	s := New(t, Options{Delay: time.Millisecond})
	c := dial(t, s)
	if err := send(c, "a@example.org", []string{"x@example.org", "y@example.org"}, "Subject: one\r\n\r\nfirst\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "b@example.org", []string{"z@example.org"}, "Subject: two\r\n\r\nsecond\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitCount(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || s.Count() != 2 || s.Connections() != 1 {
		t.Fatalf("%d messages, count %d, %d connections; want 2, 2, 1", len(msgs), s.Count(), s.Connections())
	}
	if msgs[0].From != "a@example.org" || strings.Join(msgs[0].To, ",") != "x@example.org,y@example.org" || !strings.Contains(string(msgs[0].Data), "first") {
		t.Errorf("first message %+v", msgs[0])
	}
	if msgs[1].From != "b@example.org" || !strings.Contains(string(msgs[1].Data), "second") {
		t.Errorf("second message %+v", msgs[1])
	}
	msgs[0].From = "changed"
	if s.Messages()[0].From != "a@example.org" {
		t.Error("Messages returns the sink's own slice, not a copy")
	}
	if err := c.Reset(); err != nil {
		t.Errorf("RSET: %v", err)
	}
	if s.Host() != "127.0.0.1" || s.Port() == 0 {
		t.Errorf("listens on %s:%d", s.Host(), s.Port())
	}
}

// TestSinkRefusesRecipients: Options.Rcpt answers RCPT TO with the reply
// it returns (a hard 550 or a transient 451); the other recipients of the
// same message are still taken.
func TestSinkRefusesRecipients(t *testing.T) {
	t.Parallel()
	s := New(t, Options{Rcpt: func(to string) error {
		switch {
		case strings.HasPrefix(to, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(to, "busy@"):
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
	c := dial(t, s)
	tests := []struct {
		to       string
		wantCode int
	}{
		{to: "gone@example.org", wantCode: 550},
		{to: "busy@example.org", wantCode: 451},
		{to: "ok@example.org", wantCode: 0},
	}
	if err := c.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got := code(c.Rcpt(tt.to, nil)); got != tt.wantCode {
			t.Errorf("RCPT TO %s: reply %d, want %d", tt.to, got, tt.wantCode)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if msgs := s.Messages(); len(msgs) != 1 || strings.Join(msgs[0].To, ",") != "ok@example.org" {
		t.Errorf("messages %+v, want one to ok@example.org only", msgs)
	}
}

// TestSinkDiscardAndSpool: Discard counts without keeping; Spool writes
// each message to its own file before the reply, as a real MTA does.
func TestSinkDiscardAndSpool(t *testing.T) {
	t.Parallel()
	spoolDir := t.TempDir()
	tests := []struct {
		name      string
		opts      Options
		wantKept  int
		wantFiles int
	}{
		{name: "discard", opts: Options{Discard: true}, wantKept: 0},
		{name: "spool", opts: Options{Spool: spoolDir}, wantKept: 2, wantFiles: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(t, tt.opts)
			c := dial(t, s)
			for range 2 {
				if err := send(c, "a@example.org", []string{"b@example.org"}, "Subject: s\r\n\r\nspooled body\r\n"); err != nil {
					t.Fatal(err)
				}
			}
			if s.Count() != 2 || len(s.Messages()) != tt.wantKept {
				t.Errorf("count %d, %d kept; want 2, %d", s.Count(), len(s.Messages()), tt.wantKept)
			}
			if tt.opts.Spool == "" {
				return
			}
			files, err := filepath.Glob(filepath.Join(tt.opts.Spool, "msg-*.eml"))
			if err != nil || len(files) != tt.wantFiles {
				t.Fatalf("spool holds %v (%v), want %d files", files, err, tt.wantFiles)
			}
			b, err := os.ReadFile(files[0])
			if err != nil || !strings.Contains(string(b), "spooled body") {
				t.Errorf("spooled file %q (%v)", b, err)
			}
		})
	}
}

// TestSinkSpoolFailureRefusesTheMessage: a message the sink cannot spool
// is not accepted (the client sees an error, the count stays).
func TestSinkSpoolFailureRefusesTheMessage(t *testing.T) {
	t.Parallel()
	s := New(t, Options{Spool: filepath.Join(t.TempDir(), "missing")})
	if err := send(dial(t, s), "a@example.org", []string{"b@example.org"}, "Subject: s\r\n\r\nx\r\n"); err == nil {
		t.Error("message accepted although the spool directory does not exist")
	}
	if s.Count() != 0 {
		t.Errorf("count %d, want 0", s.Count())
	}
}

// TestSinkAuth: with credentials the sink wants AUTH PLAIN (over
// STARTTLS) before MAIL FROM (go-smtp's ErrAuthRequired) and refuses wrong ones with 535.
func TestSinkAuth(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testkit.TLS(t)
	s := New(t, Options{TLSConfig: serverTLS, Username: "mailer", Password: "s3cret"})
	tests := []struct {
		name     string
		auth     sasl.Client
		wantAuth int
		wantMail int
	}{
		{name: "no auth", wantMail: smtp.ErrAuthRequired.Code},
		{name: "wrong password", auth: sasl.NewPlainClient("", "mailer", "nope"), wantAuth: 535, wantMail: smtp.ErrAuthRequired.Code},
		{name: "right credentials", auth: sasl.NewPlainClient("", "mailer", "s3cret")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := smtp.DialStartTLS(s.Addr(), clientTLS)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if !c.SupportsAuth(sasl.Plain) {
				t.Fatal("AUTH PLAIN not offered")
			}
			if tt.auth != nil {
				if got := code(c.Auth(tt.auth)); got != tt.wantAuth {
					t.Errorf("AUTH reply %d, want %d", got, tt.wantAuth)
				}
			}
			if got := code(c.Mail("a@example.org", nil)); got != tt.wantMail {
				t.Errorf("MAIL FROM reply %d, want %d", got, tt.wantMail)
			}
		})
	}
	plain := New(t, Options{TLSConfig: serverTLS})
	c, err := smtp.DialStartTLS(plain.Addr(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.SupportsAuth(sasl.Plain) {
		t.Error("a sink without credentials offers AUTH")
	}
}

// TestSinkImplicitTLS: with ImplicitTLS the listener speaks TLS from the
// first byte, as on port 465.
func TestSinkImplicitTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testkit.TLS(t)
	s := New(t, Options{TLSConfig: serverTLS, ImplicitTLS: true})
	c, err := smtp.DialTLS(s.Addr(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(c, "a@example.org", []string{"b@example.org"}, "Subject: tls\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLSConnectionState(); !ok || s.Count() != 1 {
		t.Errorf("TLS %v, count %d; want a TLS session and one message", ok, s.Count())
	}
}

// TestSinkDropConnections: open sessions are cut, as by a server restart,
// and the sink keeps listening for new ones.
func TestSinkDropConnections(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	c := dial(t, s)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	s.DropConnections()
	if err := c.Noop(); err == nil {
		t.Error("a dropped session still answers")
	}
	if err := send(dial(t, s), "a@example.org", []string{"b@example.org"}, "Subject: again\r\n\r\nx\r\n"); err != nil {
		t.Fatalf("new session after the drop: %v", err)
	}
	if s.Connections() != 2 {
		t.Errorf("%d connections, want 2", s.Connections())
	}
}

// TestSinkWaitCountAndClose: WaitCount gives up with its context and says
// how far it got; after Close nothing connects.
func TestSinkWaitCountAndClose(t *testing.T) {
	t.Parallel()
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.WaitCount(ctx, 1); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "0 of 1") {
		t.Errorf("WaitCount = %v, want context.Canceled after 0 of 1", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := smtp.Dial(s.Addr()); err == nil {
		c.Close()
		t.Error("the sink accepts connections after Close")
	}
}

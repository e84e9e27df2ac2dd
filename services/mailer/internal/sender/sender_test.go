package sender_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/libs/testkit"
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

// newSMTP makes a sender for sink that ignores the named extensions.
func newSMTP(t *testing.T, sink *smtptest.Sink, cfg sender.SMTPConfig, ignore ...string) *sender.SMTP {
	t.Helper()
	cfg.Host, cfg.Port = sink.Host(), sink.Port()
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	s, err := sender.NewSMTP(cfg, from, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sender.IgnoreExtensions(s, ignore...)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// modes are the mail transactions the sender runs, by the extensions it
// uses (the sink offers PIPELINING).
var modes = []struct {
	name   string
	ignore []string
}{
	{name: "pipelining"},
	{name: "one command at a time", ignore: []string{"PIPELINING"}},
}

// textPart reads the text part of a message the sink received.
func textPart(t *testing.T, data []byte) string {
	t.Helper()
	parsed, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	_, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	p, err := multipart.NewReader(parsed.Body, params["boundary"]).NextPart()
	if err != nil {
		t.Fatalf("text part: %v", err)
	}
	b, err := io.ReadAll(p)
	if err != nil {
		t.Fatalf("text part: %v", err)
	}
	return string(b)
}

func TestFormatKeepsCRLFOutOfHeaders(t *testing.T) {
	// The composer already flattens names and subjects; Format is the
	// second line of defence, so feed it raw CR/LF.
	m := message("user@example.com", "Eve\r\nBcc: victim@evil.example", "Hi\r\nBcc: victim@evil.example\r\n\r\n<body>")
	var raw bytes.Buffer
	if err := sender.Format(&raw, m, from, time.Now()); err != nil {
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

// TestFormat reads formatted messages back as a mail client does: the
// headers decode to the originals, both parts to their bodies, and every
// line ends in CRLF within the length limits.
func TestFormat(t *testing.T) {
	long := strings.Repeat("Ünïcödé wörds ", 30)
	tests := []struct {
		name          string
		to, toName    string
		subject, text string
		html          string
		asIs          [2]bool // text and HTML part sent as they are (7bit)
	}{
		{name: "plain", to: "user@example.com", toName: "User", subject: "Hello",
			text: "Hello\n\nLine two", html: "<p>Hello</p>", asIs: [2]bool{true, true}},
		{name: "dots and trailing spaces", to: "user@example.com", subject: "Dots",
			text: ".\n.leading dot\ntrailing space \n..\n", html: "<p>\n.\n</p>", asIs: [2]bool{true, true}},
		{name: "long non-ASCII subject and name", to: "user@example.com", toName: long, subject: long,
			text: strings.Repeat("a very long line without breaks ", 40), html: strings.Repeat("<b>x</b>", 300),
			asIs: [2]bool{false, false}},
		{name: "equals signs and boundary-like text", to: "user@example.com", subject: "=?utf-8?q?not?= encoded",
			text: "--=_ not a boundary\n=3D", html: "<a href=\"x\">=_</a>", asIs: [2]bool{true, true}},
		{name: "non-ASCII text", to: "user@example.com", subject: "Zoë", text: "Grüße, Zoë…\n", html: "<p>Zoe</p>",
			asIs: [2]bool{false, true}},
		{name: "a line too long to go as it is", to: "user@example.com", subject: "Long",
			text: "see https://example.com/" + strings.Repeat("x", 1200) + "\nend", html: "<p>" + strings.Repeat("y", 991) + "</p>",
			asIs: [2]bool{false, true}},
		{name: "CR alone and CRLF", to: "user@example.com", subject: "CR", text: "a\rb\r\nc", html: "<p>\r\n</p>",
			asIs: [2]bool{false, true}},
		{name: "the boundary itself", to: "user@example.com", subject: "Boundary", text: "--BOUNDARY--\n", html: "<p>--BOUNDARY</p>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := message(tt.to, tt.toName, tt.subject)
			boundary := "=_" + strings.ReplaceAll(m.EventID.String(), "-", "")
			m.Text = strings.ReplaceAll(tt.text, "BOUNDARY", boundary)
			m.HTML = strings.ReplaceAll(tt.html, "BOUNDARY", boundary)
			var raw bytes.Buffer
			if err := sender.Format(&raw, m, from, time.Now()); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(raw.String(), "\r\n")
			if lines[len(lines)-1] != "" {
				t.Errorf("message does not end in CRLF")
			}
			inHeader := true
			for i, l := range lines {
				if strings.ContainsAny(l, "\r\n") {
					t.Fatalf("line %d has a bare CR or LF: %q", i, l)
				}
				for _, r := range l {
					if r >= 0x80 {
						t.Fatalf("line %d is not 7-bit: %q", i, l)
					}
				}
				if l == "" {
					inHeader = false
				}
				if limit := map[bool]int{true: 78, false: 998}[inHeader]; len(l) > limit {
					t.Errorf("line %d is %d characters long, over %d: %q", i, len(l), limit, l)
				}
			}
			parsed, err := netmail.ReadMessage(bytes.NewReader(raw.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			dec := new(mime.WordDecoder)
			if subj, err := dec.DecodeHeader(parsed.Header.Get("Subject")); err != nil || subj != tt.subject {
				t.Errorf("subject reads back as %q (%v), want %q", subj, err, tt.subject)
			}
			to, err := parsed.Header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Address != tt.to || to[0].Name != tt.toName {
				t.Errorf("To reads back as %v (%v), want %q <%s>", to, err, tt.toName, tt.to)
			}
			if got := parsed.Header.Get("Auto-Submitted"); got != "auto-generated" {
				t.Errorf("Auto-Submitted = %q", got)
			}
			if _, err := parsed.Header.Date(); err != nil {
				t.Errorf("Date: %v", err)
			}
			mt, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
			if err != nil || mt != "multipart/alternative" {
				t.Fatalf("content type %q, %v", mt, err)
			}
			mr := multipart.NewReader(parsed.Body, params["boundary"])
			crlf := strings.NewReplacer("\r\n", "\r\n", "\r", "\r\n", "\n", "\r\n")
			want := []struct {
				kind, body string
				asIs       bool
			}{
				{"text/plain", crlf.Replace(m.Text), tt.asIs[0]},
				{"text/html", crlf.Replace(m.HTML), tt.asIs[1]},
			}
			for _, w := range want {
				p, err := mr.NextPart() // decodes quoted-printable
				if err != nil {
					t.Fatalf("%s part: %v", w.kind, err)
				}
				if ct := p.Header.Get("Content-Type"); ct != w.kind+"; charset=UTF-8" {
					t.Errorf("part content type %q, want %s", ct, w.kind)
				}
				// multipart drops the header of a quoted-printable part
				// it decodes; only a part sent as it is keeps it.
				if asIs := p.Header.Get("Content-Transfer-Encoding") == "7bit"; asIs != w.asIs {
					t.Errorf("%s part sent as it is: %v, want %v", w.kind, asIs, w.asIs)
				}
				body, err := io.ReadAll(p)
				if err != nil {
					t.Fatal(err)
				}
				if string(body) != w.body {
					t.Errorf("%s part reads back as %q, want %q", w.kind, body, w.body)
				}
			}
			if _, err := mr.NextPart(); err != io.EOF {
				t.Errorf("after the two parts: %v, want EOF", err)
			}
		})
	}
}

func TestIntegrationSMTPReusesConnection(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			sink := smtptest.New(t, smtptest.Options{})
			s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1}, mode.ignore...)
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
			// The lone dot line is content, not the end of the data.
			for i, m := range sink.Messages() {
				if got, want := textPart(t, m.Data), "Hello\r\n.\r\nnot the end"; got != want {
					t.Errorf("message %d: text part %q, want %q", i, got, want)
				}
			}
		})
	}
}

func TestIntegrationSMTPClassifiesFailures(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
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
			s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1}, mode.ignore...)
			tests := []struct {
				name     string
				to       string
				wantKind string
				wantCode int
			}{
				{name: "5xx is permanent", to: "gone@example.com", wantKind: sender.KindPermanent, wantCode: 550},
				{name: "4xx is transient", to: "full@example.com", wantKind: sender.KindTransient, wantCode: 452},
				{name: "the connection still works", to: "user@example.com"},
				{name: "an address that would end the command", to: "a>b@example.com", wantKind: sender.KindPermanent},
				{name: "a non-ASCII address without SMTPUTF8", to: "jörg@example.com", wantKind: sender.KindPermanent},
				{name: "and it still works", to: "user2@example.com"},
			}
			for _, tt := range tests {
				_, err := s.Send(context.Background(), message(tt.to, "", "Hello"))
				if tt.wantKind == "" {
					if err != nil {
						t.Fatalf("%s: send: %v", tt.name, err)
					}
					continue
				}
				var se *sender.Error
				if !errors.As(err, &se) || se.Kind != tt.wantKind || se.Code != tt.wantCode {
					t.Fatalf("%s: error %v, want %s with code %d", tt.name, err, tt.wantKind, tt.wantCode)
				}
			}
			if n, c := sink.Count(), sink.Connections(); n != 2 || c != 1 {
				t.Errorf("sink got %d messages over %d connections, want 2 over 1", n, c)
			}
		})
	}
}

// TestIntegrationSMTPPipelinedRefusals: concurrent sends on one
// connection go in a pipelined chain, and each gets its own outcome, a
// refusal of one leaving the others alone.
func TestIntegrationSMTPPipelinedRefusals(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			sink := smtptest.New(t, smtptest.Options{Rcpt: func(to string) error {
				switch {
				case strings.HasPrefix(to, "gone"):
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
				case strings.HasPrefix(to, "full"):
					return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
				}
				return nil
			}})
			s := newSMTP(t, sink, sender.SMTPConfig{Conns: 1}, mode.ignore...)
			const n = 60
			type want struct {
				kind string
				code int
			}
			wants := make([]want, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			ok := 0
			for i := range n {
				to := fmt.Sprintf("user%d@example.com", i)
				switch {
				case i%5 == 0:
					to, wants[i] = fmt.Sprintf("gone%d@example.com", i), want{sender.KindPermanent, 550}
				case i%7 == 0:
					to, wants[i] = fmt.Sprintf("full%d@example.com", i), want{sender.KindTransient, 452}
				default:
					ok++
				}
				wg.Go(func() {
					_, errs[i] = s.Send(context.Background(), message(to, "", "Hello"))
				})
			}
			wg.Wait()
			for i, err := range errs {
				var se *sender.Error
				switch {
				case wants[i].kind == "" && err != nil:
					t.Errorf("send %d: %v", i, err)
				case wants[i].kind != "" && (!errors.As(err, &se) || se.Kind != wants[i].kind || se.Code != wants[i].code):
					t.Errorf("send %d: error %v, want %s with code %d", i, err, wants[i].kind, wants[i].code)
				}
			}
			if got, c := sink.Count(), sink.Connections(); got != ok || c != 1 {
				t.Errorf("sink got %d messages over %d connections, want %d over 1", got, c, ok)
			}
			for i, m := range sink.Messages() {
				if got, want := textPart(t, m.Data), "Hello\r\n.\r\nnot the end"; got != want {
					t.Errorf("message %d: text part %q, want %q", i, got, want)
				}
			}
		})
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
	serverTLS, clientTLS := testkit.TLS(t)
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
		// The last of twenty waits nineteen delays (1.9 s) for the one
		// connection, longer than its deadline, and is still sent. Each
		// send itself takes a delay, 15 times less than the deadline: a
		// loaded machine does not make this row fail, and it cannot pass
		// unless waiting is left out of the deadline.
		{name: "waiting for the connection is not sending", delay: 100 * time.Millisecond, sendTimeout: 1500 * time.Millisecond, sends: 20},
		// The server holds the message 50 times the deadline: only the
		// cut-off can end the send with an error.
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

package chaos

import (
	"net"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/libs/testkit"
)

// proxied starts a sink and the proxy in front of it.
func proxied(t *testing.T) (*smtptest.Sink, *SMTPProxy) {
	t.Helper()
	sink := smtptest.New(t, smtptest.Options{})
	p, err := StartSMTPProxy(sink.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return sink, p
}

// dial opens an SMTP client session through the proxy.
func dial(t *testing.T, p *SMTPProxy) (*smtp.Client, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", net.JoinHostPort(p.Host(), strconv.Itoa(p.Port())))
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, p.Host())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, conn
}

func message(id string) string {
	return "Message-ID: <" + id + ">\r\nSubject: x\r\n\r\nbody\r\n"
}

// foldedMessage folds its Message-ID onto a second line, as go-mail (the
// mailer's client) does with a long one.
func foldedMessage(id string) string {
	return "Subject: x\r\nMessage-ID:\r\n <" + id + ">\r\nDate: now\r\n\r\nMessage-ID: <not-a-header@x>\r\n"
}

// send delivers one message with Message-ID id to each of to.
func send(c *smtp.Client, id string, to ...string) error {
	return sendData(c, message(id), to...)
}

// sendData delivers data to each of to.
func sendData(c *smtp.Client, data string, to ...string) error {
	if err := c.Mail("chaos@chaos.test"); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	return w.Close()
}

func TestIntegrationSMTPProxyRelaysAndRecordsArrivalOrder(t *testing.T) {
	sink, p := proxied(t)
	c, _ := dial(t, p)
	if err := c.Hello("mailer.test"); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"PIPELINING", "CHUNKING"} {
		if ok, _ := c.Extension(ext); ok {
			t.Errorf("EHLO through the proxy offers %s; a lock-step relay must hide it", ext)
		}
	}
	if err := send(c, "first@x", "A@chaos.test"); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "second@x", "b@chaos.test", "c@chaos.test"); err != nil {
		t.Fatal(err)
	}
	if err := sendData(c, foldedMessage("third@x"), "d@chaos.test"); err != nil {
		t.Fatal(err)
	}
	want := []Arrival{
		{Seq: 1, MessageID: "first@x", To: []string{"a@chaos.test"}},
		{Seq: 2, MessageID: "second@x", To: []string{"b@chaos.test", "c@chaos.test"}},
		{Seq: 3, MessageID: "third@x", To: []string{"d@chaos.test"}},
	}
	got := p.Arrivals()
	if !slices.EqualFunc(got, want, func(a, b Arrival) bool {
		return a.Seq == b.Seq && a.MessageID == b.MessageID && slices.Equal(a.To, b.To)
	}) {
		t.Errorf("arrivals %+v, want %+v", got, want)
	}
	if n := sink.Count(); n != 3 {
		t.Errorf("sink holds %d messages, want 3", n)
	}
}

func TestIntegrationSMTPProxyRefusesRejectDomain(t *testing.T) {
	sink, p := proxied(t)
	c, _ := dial(t, p)
	if err := c.Mail("chaos@chaos.test"); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt("x.session.3@" + RejectDomain)
	if err == nil || !strings.HasPrefix(err.Error(), "550") {
		t.Fatalf("RCPT at %s: %v, want a 550", RejectDomain, err)
	}
	// The session goes on: the next message is delivered.
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "ok@x", "ok@chaos.test"); err != nil {
		t.Fatal(err)
	}
	if n := sink.Count(); n != 1 {
		t.Errorf("sink holds %d messages, want 1", n)
	}
	if a := p.Arrivals(); len(a) != 1 || a[0].MessageID != "ok@x" {
		t.Errorf("arrivals %+v, want only ok@x", a)
	}
}

// TestIntegrationSMTPProxyDropsWhatTheClientGaveUpOn: while slow, a
// client that times out on its final "." and hangs up must not have its
// message delivered behind its back.
func TestIntegrationSMTPProxyDropsWhatTheClientGaveUpOn(t *testing.T) {
	sink, p := proxied(t)
	c, conn := dial(t, p)
	if err := c.Mail("chaos@chaos.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("slow@chaos.test"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(message("slow@x"))); err != nil {
		t.Fatal(err)
	}
	p.Slow(time.Hour)
	_ = conn.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if err := w.Close(); err == nil {
		t.Fatal("the final . was answered while the proxy holds it")
	}
	_ = conn.Close()
	testkit.Eventually(t, "the held . to be dropped", func() bool { return p.Dropped() == 1 })
	p.Slow(0)
	if err := p.Close(); err != nil { // waits for every session to end
		t.Fatal(err)
	}
	if n := sink.Count(); n != 0 {
		t.Errorf("sink holds %d messages, want none: the client gave up on it", n)
	}
	if a := p.Arrivals(); len(a) != 0 {
		t.Errorf("arrivals %+v, want none", a)
	}
}

// TestIntegrationSMTPProxySlowCommandIsRelayedToAWaitingClient: a client
// that waits out the delay gets its message through.
func TestIntegrationSMTPProxySlowCommandIsRelayedToAWaitingClient(t *testing.T) {
	sink, p := proxied(t)
	p.Slow(50 * time.Millisecond)
	c, _ := dial(t, p)
	if err := send(c, "late@x", "late@chaos.test"); err != nil {
		t.Fatal(err)
	}
	if n := sink.Count(); n != 1 {
		t.Errorf("sink holds %d messages, want 1", n)
	}
}

func TestRcptAddr(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{name: "angle brackets", line: "RCPT TO:<A@B.test>\r\n", want: "a@b.test"},
		{name: "parameters", line: "RCPT TO:<a@b.test> NOTIFY=NEVER\r\n", want: "a@b.test"},
		{name: "space after colon", line: "RCPT TO: <a@b.test>\r\n", want: "a@b.test"},
		{name: "bare", line: "RCPT TO:a@b.test\r\n", want: "a@b.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rcptAddr(tt.line); got != tt.want {
				t.Errorf("rcptAddr(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

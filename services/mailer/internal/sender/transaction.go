package sender

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// extensions are the ESMTP extensions of one connection that a mail
// transaction uses, read from its EHLO reply once, when it is dialed.
type extensions struct {
	// pipelining (RFC 2920): MAIL, RCPT and DATA go in one write, behind
	// the previous message's content, and their replies are read after it.
	pipelining bool
	// smtputf8 (RFC 6531) and eightbit (RFC 6152): needed only by an
	// address with non-ASCII characters.
	smtputf8, eightbit bool
}

// envelope is one message to send: its reverse path, its one recipient
// and its content, formatted by Format (7-bit, CRLF lines, ending in CRLF).
type envelope struct {
	from, to string
	data     []byte
}

// conn is one SMTP connection and what its server offers.
type conn struct {
	c   *smtp.Client
	ext extensions
	// used is set once a transaction has run on it: a used connection may
	// have been closed by the server while idle.
	used bool
}

// step is one command of a mail transaction and the reply class it
// expects (2 for 2xx, 3 for 3xx).
type step struct {
	name   string
	line   string
	expect int
}

// commands are the commands that open env's transaction on c. An address
// the server cannot take (non-ASCII without SMTPUTF8) is a permanent
// *Error, before anything is sent.
func (c *conn) commands(env envelope) ([3]step, error) {
	mail := "MAIL FROM:<" + env.from + ">"
	if !isASCII(env.from) || !isASCII(env.to) {
		if !c.ext.smtputf8 {
			return [3]step{}, &Error{Kind: KindPermanent, Err: fmt.Errorf("address %q needs SMTPUTF8, which the server does not offer", env.to)}
		}
		mail += " SMTPUTF8"
		if c.ext.eightbit {
			mail += " BODY=8BITMIME"
		}
	}
	return [3]step{
		{name: "MAIL FROM", line: mail, expect: 2},
		{name: "RCPT TO", line: "RCPT TO:<" + env.to + ">", expect: 2},
		{name: "DATA", line: "DATA", expect: 3},
	}, nil
}

// write buffers the command lines of steps.
func (c *conn) write(steps []step) {
	w := c.c.Text.W
	for _, st := range steps {
		w.WriteString(st.line)
		w.WriteString("\r\n")
	}
}

// open runs a transaction up to the server's 354 reply to DATA. When sent
// is true its commands went out already, behind the previous message
// (PIPELINING); otherwise open sends them: all at once with PIPELINING,
// else each after the reply to the one before. A refused command is
// returned as a *textproto.Error wrapped with the command's name; when the
// server refuses several (RCPT, then the DATA without a recipient), the
// first refusal is the cause. A failure before the server answered
// anything, or a 421 as its first answer, is an *unansweredError. A
// transaction left open by a refusal is for the caller to RSET.
func (c *conn) open(steps [3]step, sent bool) error {
	text := c.c.Text
	c.used = true
	var (
		first error // the first refusal
		code  int   // of the last reply read
	)
	for i, st := range steps {
		if !c.ext.pipelining || i == 0 && !sent {
			if c.ext.pipelining {
				c.write(steps[:])
			} else {
				c.write(steps[i : i+1])
			}
			if err := text.W.Flush(); err != nil {
				return noAnswer(i, fmt.Errorf("send %s: %w", st.name, err))
			}
		}
		var err error
		code, _, err = text.ReadResponse(st.expect)
		if err == nil {
			continue
		}
		if !isReply(err) {
			return noAnswer(i, fmt.Errorf("read reply to %s: %w", st.name, err))
		}
		if first == nil {
			first = fmt.Errorf("%s: %w", st.name, err)
			if i == 0 && code == 421 {
				return &unansweredError{first}
			}
		}
		if !c.ext.pipelining {
			return first // nothing else was sent
		}
	}
	if first != nil && code == 354 {
		// A server that let DATA through despite the refusal gets an empty
		// message, which it cannot deliver to no recipient.
		text.W.WriteString(".\r\n")
		if err := text.W.Flush(); err != nil {
			return fmt.Errorf("end refused DATA: %w", err)
		}
		if _, _, err := text.ReadResponse(0); err != nil && !isReply(err) {
			return fmt.Errorf("end refused DATA: %w", err)
		}
	}
	return first
}

// end reads the server's answer to a message's content.
func (c *conn) end() (string, error) {
	code, msg, err := c.c.Text.ReadResponse(2)
	if err != nil {
		return "", fmt.Errorf("end of DATA: %w", err)
	}
	return strconv.Itoa(code) + " " + msg, nil
}

// deadline bounds the connection's next writes and reads by each of ts
// that is set and by the command timeout.
func (c *conn) deadline(timeout time.Duration, ts ...time.Time) error {
	d := timeout
	for _, t := range ts {
		if !t.IsZero() {
			d = min(d, time.Until(t))
		}
	}
	return c.c.UpdateDeadline(d)
}

// unansweredError is a failure before the server answered any command of
// the transaction, or when its first answer was 421 (closing the
// connection): the server cannot have taken the message, so it may go
// again on a new connection. Typically the server closed an idle
// connection.
type unansweredError struct{ err error }

func (e *unansweredError) Error() string { return e.err.Error() }
func (e *unansweredError) Unwrap() error { return e.err }

// noAnswer marks err as unanswered when it happened at the first command.
func noAnswer(i int, err error) error {
	if i == 0 {
		return &unansweredError{err}
	}
	return err
}

// isReply reports whether err is a reply of the server, not a failure to
// get one.
func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

var crlfDot = []byte("\n.")

// writeDotted writes data, whose lines all end in CRLF, as DATA content
// (RFC 5321 §4.5.2): a line that begins with a dot gets one more, and a
// line with a lone dot ends it.
func writeDotted(w *bufio.Writer, data []byte) {
	if len(data) > 0 && data[0] == '.' {
		w.WriteByte('.')
	}
	for {
		i := bytes.Index(data, crlfDot)
		if i < 0 {
			break
		}
		w.Write(data[:i+2])
		w.WriteByte('.')
		data = data[i+2:]
	}
	w.Write(data)
	w.WriteString(".\r\n")
}

// checkPath accepts an address for MAIL FROM or RCPT TO: no control
// character or angle bracket can end the command early or add one.
func checkPath(addr string) error {
	if addr == "" {
		return errors.New("address is empty")
	}
	for i := range len(addr) {
		if c := addr[i]; c < ' ' || c == 0x7f || c == '<' || c == '>' {
			return fmt.Errorf("address %q has a forbidden character", addr)
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

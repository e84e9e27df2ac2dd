package sender

import (
	"bytes"
	"errors"
	"fmt"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/acube/platform/services/mailer/internal/email"
)

// Format writes m as an RFC 5322 message to b: a multipart/alternative
// with the text and the HTML part, dated date. A part goes as it is
// (7bit) when it is ASCII with lines of at most 998 characters, as the
// templates make it, else quoted-printable (non-ASCII data, a very long
// URL).
//
// The result is 7-bit and every line ends in CRLF, so it goes over SMTP
// dot-stuffed and nothing else, without the server's 8BITMIME.
// Event data cannot add a header line: a subject or name with a control
// character (CR, LF, ...) or any non-ASCII text is written as RFC 2047
// encoded words, and long headers are folded at spaces. The multipart
// boundary begins with "=_", which quoted-printable text never contains,
// and a part that contains it is never sent as it is.
func Format(b *bytes.Buffer, m email.Message, from *netmail.Address, date time.Time) error {
	if err := checkID(m.MessageID); err != nil {
		return err
	}
	boundary := "=_" + strings.ReplaceAll(m.EventID.String(), "-", "")
	header(b, "Auto-Submitted", "auto-generated")
	header(b, "Date", date.Format(time.RFC1123Z))
	header(b, "MIME-Version", "1.0")
	header(b, "Message-ID", "<"+m.MessageID+">")
	header(b, "Subject", encodeText(m.Subject))
	header(b, "X-Auto-Response-Suppress", "All")
	header(b, "From", from.String())
	header(b, "To", m.To.String())
	header(b, "Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, p := range [...]struct{ kind, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		b.WriteString("--" + boundary + "\r\n")
		if sevenBit(p.body, boundary) {
			b.WriteString("Content-Transfer-Encoding: 7bit\r\n")
			b.WriteString("Content-Type: " + p.kind + "; charset=UTF-8\r\n\r\n")
			writeLines(b, p.body)
			continue
		}
		b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
		b.WriteString("Content-Type: " + p.kind + "; charset=UTF-8\r\n\r\n")
		qp := quotedprintable.NewWriter(b)
		if _, err := qp.Write([]byte(p.body)); err != nil {
			return fmt.Errorf("encode %s part of %s: %w", p.kind, m.MessageID, err)
		}
		if err := qp.Close(); err != nil {
			return fmt.Errorf("encode %s part of %s: %w", p.kind, m.MessageID, err)
		}
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return nil
}

// maxBodyLine is the longest line SMTP carries, CRLF not counted (RFC
// 5321 §4.5.3.1.6).
const maxBodyLine = 998

// sevenBit reports whether s can go as it is in a 7bit part: ASCII
// without NUL or a CR that does not end a line, lines of at most
// maxBodyLine characters, and nothing that could be taken for the
// boundary.
func sevenBit(s, boundary string) bool {
	line := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			line = 0
			continue
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			continue
		case c == 0 || c == '\r' || c >= 0x80:
			return false
		}
		if line++; line > maxBodyLine {
			return false
		}
	}
	return !strings.Contains(s, boundary)
}

// writeLines writes s with every line ending in CRLF, then the CRLF that
// belongs to the boundary after the part, so the part reads back as s.
func writeLines(b *bytes.Buffer, s string) {
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		b.WriteString(strings.TrimSuffix(s[:i], "\r"))
		b.WriteString("\r\n")
		s = s[i+1:]
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

// checkID accepts a Message-ID made of printable ASCII without angle
// brackets or spaces, as email.MessageID makes them.
func checkID(id string) error {
	if id == "" {
		return errors.New("format message: Message-ID is empty")
	}
	for i := range len(id) {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return fmt.Errorf("format message: Message-ID %q has a forbidden character", id)
		}
	}
	return nil
}

// encodeText returns s as an unstructured header value (a subject): as it
// is when it is printable ASCII, else as RFC 2047 encoded words, which is
// what turns CR and LF into harmless text. Text that looks like an encoded
// word ("=?") is encoded too, so a reader shows it as it was written.
func encodeText(s string) string {
	plain := !strings.Contains(s, "=?")
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= ' ' && s[i] < 0x7f
	}
	if plain {
		return s
	}
	const (
		open, end = "=?UTF-8?q?", "?="
		room      = 75 - len(open) - len(end) // RFC 2047 §2: 75 characters a word
	)
	var b strings.Builder
	b.Grow(3*len(s) + 16)
	b.WriteString(open)
	n := 0
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		// A character's bytes stay in one word (RFC 2047 §5).
		enc := 0
		for _, c := range []byte(s[i : i+size]) {
			enc += qLen(c)
		}
		if n+enc > room {
			b.WriteString(end + " " + open)
			n = 0
		}
		for _, c := range []byte(s[i : i+size]) {
			switch {
			case c == ' ':
				b.WriteByte('_')
			case qLen(c) == 1:
				b.WriteByte(c)
			default:
				b.WriteByte('=')
				b.WriteByte(upperHex[c>>4])
				b.WriteByte(upperHex[c&15])
			}
		}
		n += enc
		i += size
	}
	b.WriteString(end)
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// qLen is how long c is in a Q-encoded word: letters, digits and a few
// safe symbols stand for themselves, the space is "_", the rest "=XX".
func qLen(c byte) int {
	switch {
	case c == ' ', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return 1
	case strings.IndexByte("!*+-/", c) >= 0: // RFC 2047 §5(3)
		return 1
	}
	return 3
}

// maxLine is where header lines are folded when a space allows it (RFC
// 5322 §2.1.1 recommends 78 characters; 998 is the hard limit, which the
// composer's bounds on subjects and names keep every word under).
const maxLine = 78

// header writes "name: value" and CRLF, folding the value at spaces so
// its lines stay within maxLine where it can (never where the continuation
// line would hold only white space). value has no CR or LF.
func header(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteByte(':')
	col := len(name) + 1
	for {
		word, rest, more := strings.Cut(value, " ")
		if word != "" && col+1+len(word) > maxLine {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteByte(' ')
		b.WriteString(word)
		col += 1 + len(word)
		if !more {
			break
		}
		value = rest
	}
	b.WriteString("\r\n")
}

package chaos

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acube/platform/libs/smtptest"
)

// Mail is what the checks need of one received email.
type Mail struct {
	// To are the recipients, lower-cased.
	To []string
	// MessageID is the Message-ID header without angle brackets.
	MessageID string
	// Subject is the decoded subject.
	Subject string
}

// Mailbox is where the run reads the emails the system sent.
type Mailbox interface {
	// All returns every email received so far.
	All(ctx context.Context) ([]Mail, error)
	// To returns the emails received so far for one address.
	To(ctx context.Context, addr string) ([]Mail, error)
	// Texts returns the plain-text bodies of the emails received so far
	// for one address (an invitation's link is read from it).
	Texts(ctx context.Context, addr string) ([]string, error)
}

// Mailpit reads emails through Mailpit's API.
type Mailpit struct {
	base   string
	client *http.Client
}

// NewMailpit reads the Mailpit whose API is at base (http://host:port).
func NewMailpit(base string) *Mailpit {
	return &Mailpit{base: base, client: &http.Client{Timeout: 30 * time.Second}}
}

// mailpitList is the part of Mailpit's message list and search answers
// the run reads.
type mailpitList struct {
	Total    int `json:"total"`
	Messages []struct {
		// ID is Mailpit's own id of the message.
		ID        string `json:"ID"`
		MessageID string `json:"MessageID"`
		Subject   string `json:"Subject"`
		To        []struct {
			Address string `json:"Address"`
		} `json:"To"`
	} `json:"messages"`
}

// All pages through GET /api/v1/messages.
func (m *Mailpit) All(ctx context.Context) ([]Mail, error) {
	const page = 1000
	var all []Mail
	for start := 0; start < 1_000_000; start += page {
		list, err := m.get(ctx, "/api/v1/messages?start="+strconv.Itoa(start)+"&limit="+strconv.Itoa(page))
		if err != nil {
			return nil, err
		}
		all = append(all, list...)
		if len(list) < page {
			break
		}
	}
	return all, nil
}

// To searches GET /api/v1/search?query=to:ADDR.
func (m *Mailpit) To(ctx context.Context, addr string) ([]Mail, error) {
	return m.get(ctx, "/api/v1/search?limit=100&query="+url.QueryEscape("to:"+addr))
}

// Texts searches to:ADDR and reads each message's text part
// (GET /api/v1/message/{ID}).
func (m *Mailpit) Texts(ctx context.Context, addr string) ([]string, error) {
	var list mailpitList
	if err := m.getJSON(ctx, "/api/v1/search?limit=100&query="+url.QueryEscape("to:"+addr), &list); err != nil {
		return nil, err
	}
	var out []string
	for _, msg := range list.Messages {
		var full struct {
			Text string `json:"Text"`
		}
		if err := m.getJSON(ctx, "/api/v1/message/"+url.PathEscape(msg.ID), &full); err != nil {
			return nil, err
		}
		out = append(out, full.Text)
	}
	return out, nil
}

// getJSON decodes the answer to GET path into v.
func (m *Mailpit) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return fmt.Errorf("mailpit: %w", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit: GET %s: status %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("mailpit: decode %s: %w", path, err)
	}
	return nil
}

func (m *Mailpit) get(ctx context.Context, path string) ([]Mail, error) {
	var list mailpitList
	if err := m.getJSON(ctx, path, &list); err != nil {
		return nil, err
	}
	out := make([]Mail, 0, len(list.Messages))
	for _, msg := range list.Messages {
		m := Mail{MessageID: strings.Trim(msg.MessageID, "<>"), Subject: msg.Subject}
		for _, to := range msg.To {
			m.To = append(m.To, strings.ToLower(to.Address))
		}
		out = append(out, m)
	}
	return out, nil
}

// Sink reads the emails an in-process SMTP sink (libs/smtptest) received.
type Sink struct{ S *smtptest.Sink }

// All parses every message the sink holds.
func (s Sink) All(context.Context) ([]Mail, error) {
	msgs := s.S.Messages()
	out := make([]Mail, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, parseMail(m))
	}
	return out, nil
}

// To returns the sink's messages for addr.
func (s Sink) To(ctx context.Context, addr string) ([]Mail, error) {
	all, err := s.All(ctx)
	if err != nil {
		return nil, err
	}
	return filterTo(all, addr), nil
}

// Texts returns the text part of each of the sink's messages for addr,
// decoded.
func (s Sink) Texts(_ context.Context, addr string) ([]string, error) {
	addr = strings.ToLower(addr)
	var out []string
	for _, m := range s.S.Messages() {
		if slices.ContainsFunc(m.To, func(to string) bool { return strings.ToLower(to) == addr }) {
			out = append(out, textOf(m.Data))
		}
	}
	return out, nil
}

// textOf is the decoded text/plain part of a raw message (the message's
// own body when it is not multipart), "" when it cannot be read.
func textOf(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

// textPart decodes a body of the given type and encoding, descending into
// multipart bodies for their first text/plain part.
func textPart(contentType, encoding string, body io.Reader) string {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return ""
			}
			if t := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); t != "" {
				return t
			}
		}
	}
	if mt != "text/plain" {
		return ""
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return ""
	}
	return string(b)
}

func parseMail(m smtptest.Message) Mail {
	out := Mail{}
	for _, to := range m.To {
		out.To = append(out.To, strings.ToLower(to))
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return out
	}
	out.MessageID = strings.Trim(parsed.Header.Get("Message-Id"), "<> ")
	subject := parsed.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = dec
	}
	out.Subject = subject
	return out
}

func filterTo(all []Mail, addr string) []Mail {
	addr = strings.ToLower(addr)
	var out []Mail
	for _, m := range all {
		for _, to := range m.To {
			if to == addr {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
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

func (m *Mailpit) get(ctx context.Context, path string) ([]Mail, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit: GET %s: status %d", path, resp.StatusCode)
	}
	var list mailpitList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("mailpit: decode %s: %w", path, err)
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

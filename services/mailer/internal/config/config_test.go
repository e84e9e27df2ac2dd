package config_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/services/mailer/internal/config"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c config.Config)
		wantErr string
	}{
		{name: "defaults", env: nil, check: func(t *testing.T, c config.Config) {
			if c.Addr != ":8103" || c.SMTP.Host != "" || c.SMTP.Port != 1025 || c.SMTP.TLS != "none" ||
				c.MailFrom != "A-Cube <no-reply@acube.local>" || c.PublicBaseURL != "http://localhost:8001" || c.MailRate != 0 || c.Batch() != c.BatchSize || c.BatchSize < 1 {
				t.Errorf("defaults: %+v", c)
			}
			b, _ := c.Backoff()
			if len(b) != 4 || b[0] != time.Second || b[3] != 2*time.Minute {
				t.Errorf("backoff %v", b)
			}
		}},
		{name: "smtp settings", env: map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "465", "SMTP_TLS": "tls",
			"SMTP_USERNAME": "u", "SMTP_PASSWORD": "p", "MAIL_RATE": "2.5", "MAILER_RETRY_BACKOFF": "10ms, 1s"},
			check: func(t *testing.T, c config.Config) {
				b, _ := c.Backoff()
				if c.SMTP.Port != 465 || c.SMTP.TLS != "tls" || c.MailRate != 2.5 || len(b) != 2 || b[0] != 10*time.Millisecond {
					t.Errorf("got %+v, backoff %v", c, b)
				}
			}},
		{name: "manage links open booking's pages by default", env: map[string]string{"PUBLIC_BASE_URL": "https://acube.example/"},
			check: func(t *testing.T, c config.Config) {
				s, r := c.ManageTemplates()
				if s.String() != "https://acube.example/manage/sessions/{id}?token={token}" ||
					r.String() != "https://acube.example/manage/registrations/{id}?token={token}" {
					t.Errorf("templates %q, %q", s, r)
				}
			}},
		{name: "manage links to a front end", env: map[string]string{
			"MAILER_SESSION_MANAGE_URL":      "https://www.acube.org/b/{id}?t={token}",
			"MAILER_REGISTRATION_MANAGE_URL": "https://www.acube.org/r/{id}?t={token}"},
			check: func(t *testing.T, c config.Config) {
				s, r := c.ManageTemplates()
				if s.String() != "https://www.acube.org/b/{id}?t={token}" || r.String() != "https://www.acube.org/r/{id}?t={token}" {
					t.Errorf("templates %q, %q", s, r)
				}
			}},
		{name: "manage link without token", env: map[string]string{"MAILER_SESSION_MANAGE_URL": "https://www.acube.org/b/{id}"}, wantErr: "MAILER_SESSION_MANAGE_URL"},
		{name: "manage link as a path", env: map[string]string{"MAILER_REGISTRATION_MANAGE_URL": "/r/{id}?t={token}"}, wantErr: "MAILER_REGISTRATION_MANAGE_URL"},
		{name: "bad tls mode", env: map[string]string{"SMTP_TLS": "ssl"}, wantErr: "SMTP_TLS"},
		{name: "bad from", env: map[string]string{"MAIL_FROM": "not an address"}, wantErr: "MAIL_FROM"},
		{name: "negative rate", env: map[string]string{"MAIL_RATE": "-1"}, wantErr: "MAIL_RATE"},
		{name: "relative base url", env: map[string]string{"PUBLIC_BASE_URL": "/x"}, wantErr: "PUBLIC_BASE_URL"},
		{name: "bad zone", env: map[string]string{"MAIL_TIMEZONE": "Mars/Olympus"}, wantErr: "MAIL_TIMEZONE"},
		{name: "bad backoff", env: map[string]string{"MAILER_RETRY_BACKOFF": "1s,soon"}, wantErr: "MAILER_RETRY_BACKOFF"},
		{name: "rate too low for the handlers", env: map[string]string{"MAIL_RATE": "0.5"}, wantErr: "MAIL_RATE"},
		{name: "low rate with few handlers", env: map[string]string{"MAIL_RATE": "0.5", "MAILER_CONCURRENCY": "1"},
			check: func(t *testing.T, c config.Config) {
				if got := c.Batch(); got != 3 {
					t.Errorf("batch %d, want 3 (10 tokens in 20s for 3 handlers)", got)
				}
			}},
		{name: "rate above what batches need", env: map[string]string{"MAIL_RATE": "1000", "MAILER_BATCH_SIZE": "8"},
			check: func(t *testing.T, c config.Config) {
				if got := c.Batch(); got != 8 {
					t.Errorf("batch %d, want 8", got)
				}
			}},
		{name: "no batch", env: map[string]string{"MAILER_BATCH_SIZE": "0"}, wantErr: "MAILER_BATCH_SIZE"},
		{name: "batch too large", env: map[string]string{"MAILER_BATCH_SIZE": "1000"}, wantErr: "MAILER_BATCH_SIZE"},
		{name: "no connections", env: map[string]string{"SMTP_CONNS": "0"}, wantErr: "SMTP_CONNS"},
		{name: "ack limit default", env: nil, check: ackLimit(3, time.Hour)},
		{name: "ack limit per day", env: map[string]string{"MAILER_ACK_LIMIT": "10/day"}, check: ackLimit(10, 24*time.Hour)},
		{name: "ack limit per duration", env: map[string]string{"MAILER_ACK_LIMIT": "2/30m"}, check: ackLimit(2, 30*time.Minute)},
		{name: "ack limit off", env: map[string]string{"MAILER_ACK_LIMIT": "off"}, check: ackLimit(0, 0)},
		{name: "ack limit zero", env: map[string]string{"MAILER_ACK_LIMIT": "0/hour"}, wantErr: "MAILER_ACK_LIMIT"},
		{name: "ack limit no window", env: map[string]string{"MAILER_ACK_LIMIT": "3"}, wantErr: "MAILER_ACK_LIMIT"},
		{name: "ack limit bad unit", env: map[string]string{"MAILER_ACK_LIMIT": "3/fortnight"}, wantErr: "MAILER_ACK_LIMIT"},
		{name: "no link secret", env: map[string]string{"MAILER_LINK_SECRET": ""}, wantErr: "MAILER_LINK_SECRET"},
		{name: "short link secret", env: map[string]string{"MAILER_LINK_SECRET": strings.Repeat("k", 31)}, wantErr: "MAILER_LINK_SECRET"},
		{name: "retention shorter than the streams keep events", env: map[string]string{"MAILER_DELIVERY_RETENTION": "72h"}, wantErr: "MAILER_DELIVERY_RETENTION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"MAILER_LINK_SECRET": strings.Repeat("k", 32)}
			maps.Copy(env, tt.env)
			c, err := config.Load(libconfig.Map(env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// ackLimit checks the parsed MAILER_ACK_LIMIT.
func ackLimit(limit int, window time.Duration) func(t *testing.T, c config.Config) {
	return func(t *testing.T, c config.Config) {
		t.Helper()
		n, w, err := c.RecipientLimit()
		if err != nil || n != limit || w != window {
			t.Errorf("RecipientLimit() = %d, %s, %v; want %d, %s", n, w, err, limit, window)
		}
	}
}

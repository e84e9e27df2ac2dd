package email_test

import (
	"bytes"
	netmail "net/mail"
	"testing"
	"time"

	"github.com/acube/platform/services/mailer/internal/email"
	"github.com/acube/platform/services/mailer/internal/sender"
)

func BenchmarkCompose(b *testing.B) {
	c := composer(b)
	ev, _ := email.Sample("session_confirmation")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compose(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	c := composer(b)
	ev, _ := email.Sample("session_confirmation")
	m, _ := c.Compose(ev)
	from := &netmail.Address{Name: "A-Cube", Address: "no-reply@acube.local"}
	now := time.Now()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := sender.Format(&buf, m, from, now); err != nil {
			b.Fatal(err)
		}
	}
}

package email_test

import (
	"io"
	netmail "net/mail"
	"testing"

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

func BenchmarkBuildAndWrite(b *testing.B) {
	c := composer(b)
	ev, _ := email.Sample("session_confirmation")
	m, _ := c.Compose(ev)
	from := &netmail.Address{Name: "A-Cube", Address: "no-reply@acube.local"}
	b.ReportAllocs()
	for b.Loop() {
		msg, err := sender.Build(m, from)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := msg.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

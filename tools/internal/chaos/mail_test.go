package chaos

import (
	"strings"
	"testing"
)

// TestTextOf: an email's text part is found and decoded however the
// mailer wraps it, so an invitation's link can be read from it.
func TestTextOf(t *testing.T) {
	const link = "https://a.example/admin/invitation?token=abc_DEF-123"
	tests := []struct {
		name string
		raw  string
		want string // a part of the text, "" for no text
	}{
		{name: "plain, quoted-printable with a soft break",
			raw:  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSet it: https://a.example/admin/invitation?token=3Dabc_DE=\r\nF-123\r\n",
			want: link},
		{name: "multipart/alternative, text part first",
			raw:  "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSet it: " + link + "\r\n--b\r\nContent-Type: text/html\r\n\r\n<a>x</a>\r\n--b--\r\n",
			want: link},
		{name: "multipart/alternative, html part first, base64 text",
			raw:  "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<a>x</a>\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nU2V0IGl0OiBodHRwczovL2EuZXhhbXBsZS9hZG1pbi9pbnZpdGF0aW9uP3Rva2VuPWFiY19ERUYtMTIz\r\n--b--\r\n",
			want: link},
		{name: "not an email", raw: "garbage", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := textOf([]byte(tt.raw))
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Fatalf("textOf = %q, want a text holding %q", got, tt.want)
			}
		})
	}
}

package adminflow

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// bootstrapOutput is what `admin bootstrap` prints (docs/admin.md, "First
// admin"; services/admin/cmd/admin printEnrolment), preceded by its log
// line.
const bootstrapOutput = `{"time":"…","level":"INFO","msg":"first superadmin created, TOTP enrolled","service":"admin"}
superadmin you@example.org created (id 0195f000-0000-7000-8000-000000000001)
Superadmins log in with a TOTP code too. Add this key to an authenticator app now
(scan the URI as a QR code, e.g. qrencode -t ansiutf8 'URI', or type the secret):
  otpauth URI: otpauth://totp/A-Cube%20Admin:you@example.org?algorithm=SHA1&digits=6&issuer=A-Cube+Admin&period=30&secret=JBSWY3DPEHPK3PXP
  secret:      JBSWY3DPEHPK3PXP
Recovery codes: each logs in once instead of a code. Keep them offline; they are not shown again.
  recovery code: ABCD-EFGH-IJKL-MNOP
  recovery code: QRST-UVWX-YZ23-4567
`

func TestParseEnrolment(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    Enrolment
		wantErr bool
	}{
		{name: "bootstrap output", out: bootstrapOutput, want: Enrolment{
			Secret:        "JBSWY3DPEHPK3PXP",
			URI:           "otpauth://totp/A-Cube%20Admin:you@example.org?algorithm=SHA1&digits=6&issuer=A-Cube+Admin&period=30&secret=JBSWY3DPEHPK3PXP",
			RecoveryCodes: []string{"ABCD-EFGH-IJKL-MNOP", "QRST-UVWX-YZ23-4567"},
		}},
		{name: "CRLF line ends", out: strings.ReplaceAll(bootstrapOutput, "\n", "\r\n"), want: Enrolment{
			Secret:        "JBSWY3DPEHPK3PXP",
			URI:           "otpauth://totp/A-Cube%20Admin:you@example.org?algorithm=SHA1&digits=6&issuer=A-Cube+Admin&period=30&secret=JBSWY3DPEHPK3PXP",
			RecoveryCodes: []string{"ABCD-EFGH-IJKL-MNOP", "QRST-UVWX-YZ23-4567"},
		}},
		{name: "no secret", out: "superadmin you@example.org created\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnrolment(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("enrolment = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCode checks the codes against RFC 6238's SHA-1 test vectors (the
// last six of their eight digits), as the service's TestRFC6238Vectors
// does.
func TestCode(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // "12345678901234567890"
	tests := []struct {
		name string
		unix int64
		want string
	}{
		{name: "59", unix: 59, want: "287082"},
		{name: "1111111109", unix: 1111111109, want: "081804"},
		{name: "1234567890", unix: 1234567890, want: "005924"},
		{name: "2000000000", unix: 2000000000, want: "279037"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Code(secret, time.Unix(tt.unix, 0))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Code = %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := Code("not base32!", time.Unix(59, 0)); err == nil {
		t.Error("Code accepted a secret that is not base32")
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		name string
		unix int64
		want int64
	}{
		{name: "first second of a step", unix: 60, want: 2},
		{name: "last second of a step", unix: 89, want: 2},
		{name: "next step", unix: 90, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Step(time.Unix(tt.unix, 0)); got != tt.want {
				t.Errorf("Step = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestInvitationToken(t *testing.T) {
	const token = "q7V0m3y8Zk2xW1b4N6c9R5t0U2a8S3d7F1g4H6j9K0l"
	tests := []struct {
		name   string
		text   string
		want   string
		wantOK bool
	}{
		{name: "link on its own line", text: "Choose your password:\nhttps://acube.example/admin/invitation?token=" + token + "\n\nThe link works once.", want: token, wantOK: true},
		{name: "link at the end", text: "http://127.0.0.1:8080/admin/invitation?token=" + token, want: token, wantOK: true},
		{name: "token too short", text: "/admin/invitation?token=" + token[:42] + "\n"},
		{name: "token too long", text: "/admin/invitation?token=" + token + "x\n"},
		{name: "no link", text: "Welcome to A-Cube Admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := InvitationToken(tt.text)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("InvitationToken = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestRandomPassword(t *testing.T) {
	a, b := RandomPassword(), RandomPassword()
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("RandomPassword = %q, want 32 hex digits", a)
	}
	if a == b {
		t.Errorf("two RandomPasswords are equal: %q", a)
	}
}

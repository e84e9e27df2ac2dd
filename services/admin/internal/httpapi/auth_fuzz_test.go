package httpapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/account"
)

// These fuzz targets feed arbitrary bytes through the admin API's JSON
// bodies with the handlers' size limits: a body decodes or is a client
// error, never a panic or a server error. The validation behind them is
// fuzzed in the account and job packages.

// decodeBody decodes body as web.Decode does for a handler with limit
// max, failing the test on anything but a 4xx web.Error.
func decodeBody(t *testing.T, body string, max int64, dst any) bool {
	t.Helper()
	err := web.DecodeJSON(strings.NewReader(body), max, dst)
	if err == nil {
		return true
	}
	var we *web.Error
	if !errors.As(err, &we) || we.Status < 400 || we.Status > 499 {
		t.Fatalf("decode %q: %v, want a 4xx web.Error", body, err)
	}
	return false
}

func FuzzLoginRequest(f *testing.F) {
	for _, s := range []string{`{"email":"ada@example.org","password":"correct horse battery"}`, `{"email":1}`, `{}`,
		`{"email":"a@b.org","password":"` + strings.Repeat("p", 9000) + `"}`, `{"email":"a@b.org","password":"x","otp":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req loginRequest
		decodeBody(t, body, 8<<10, &req)
	})
}

func FuzzRefreshRequest(f *testing.F) {
	for _, s := range []string{`{"refresh_token":"abc"}`, `{"refresh_token":null}`, `{}`, `{"refresh_token":["a"]}`, `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req refreshRequest
		decodeBody(t, body, 4<<10, &req)
	})
}

func FuzzAccountRequest(f *testing.F) {
	for _, s := range []string{`{"email":"new@example.org","name":"New","role":"admin"}`,
		`{"role":"root"}`, `{}`, `{"email":"x","name":"","role":"superadmin","password":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in account.Invitee
		decodeBody(t, body, 8<<10, &in)
	})
}

func FuzzSecurityRequests(f *testing.F) {
	for _, s := range []string{`{"mfa_token":"t","code":"123456"}`, `{"mfa_token":"t","recovery_code":"ABCD-EFGH-IJKL-MNOP"}`,
		`{"token":"t","password":"a long enough password"}`, `{"current_password":"a","new_password":"b"}`, `{"code":1}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var (
			m  mfaRequest
			e  mfaEnrollRequest
			c  codeRequest
			p  passwordChangeRequest
			ac acceptRequest
		)
		decodeBody(t, body, 4<<10, &m)
		decodeBody(t, body, 4<<10, &e)
		decodeBody(t, body, 1<<10, &c)
		decodeBody(t, body, 8<<10, &p)
		decodeBody(t, body, 8<<10, &ac)
	})
}

package httpapi

import (
	"strings"
	"testing"

	"github.com/acube/platform/libs/web/webtest"
	"github.com/acube/platform/services/admin/internal/account"
)

// These fuzz targets feed arbitrary bytes through the admin API's JSON
// bodies with the handlers' size limits: a body decodes or is a client
// error, never a panic or a server error. The validation behind them is
// fuzzed in the account and job packages.

func FuzzLoginRequest(f *testing.F) {
	for _, s := range []string{`{"email":"ada@example.org","password":"correct horse battery"}`, `{"email":1}`, `{}`,
		`{"email":"a@b.org","password":"` + strings.Repeat("p", 9000) + `"}`, `{"email":"a@b.org","password":"x","otp":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req loginRequest
		webtest.Decode(t, body, 8<<10, &req)
	})
}

func FuzzRefreshRequest(f *testing.F) {
	for _, s := range []string{`{"refresh_token":"abc"}`, `{"refresh_token":null}`, `{}`, `{"refresh_token":["a"]}`, `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req refreshRequest
		webtest.Decode(t, body, 4<<10, &req)
	})
}

func FuzzAccountRequest(f *testing.F) {
	for _, s := range []string{`{"email":"new@example.org","name":"New","role":"admin"}`,
		`{"role":"root"}`, `{}`, `{"email":"x","name":"","role":"superadmin","password":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in account.Invitee
		webtest.Decode(t, body, 8<<10, &in)
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
		webtest.Decode(t, body, 4<<10, &m)
		webtest.Decode(t, body, 4<<10, &e)
		webtest.Decode(t, body, 1<<10, &c)
		webtest.Decode(t, body, 8<<10, &p)
		webtest.Decode(t, body, 8<<10, &ac)
	})
}

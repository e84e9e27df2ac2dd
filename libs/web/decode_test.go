package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type form struct {
	Email string `json:"email"`
	Count int    `json:"count"`
	Tags  []string
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int // 0: no error
		wantField  string
		ctype      string
	}{
		{name: "valid", body: `{"email":"a@b.org","count":2}`},
		{name: "empty body", body: ``, wantStatus: 400},
		{name: "malformed", body: `{"email":`, wantStatus: 400},
		{name: "syntax error", body: `{"email" "x"}`, wantStatus: 400},
		{name: "unknown field", body: `{"email":"a@b.org","admin":true}`, wantStatus: 400, wantField: "admin"},
		{name: "wrong type", body: `{"email":42}`, wantStatus: 400, wantField: "email"},
		{name: "number for array", body: `{"Tags":1}`, wantStatus: 400, wantField: "Tags"},
		{name: "not an object", body: `[1,2]`, wantStatus: 400},
		{name: "two objects", body: `{"email":"a"}{"email":"b"}`, wantStatus: 400},
		{name: "trailing garbage", body: `{"email":"a"} x`, wantStatus: 400},
		{name: "too large", body: `{"email":"` + strings.Repeat("a", 2000) + `"}`, wantStatus: 413},
		{name: "sql metacharacters are just text", body: `{"email":"'; DROP TABLE sessions; --"}`},
		{name: "not json media type", body: `email=x`, wantStatus: 415, ctype: "application/x-www-form-urlencoded"},
		{name: "odd unicode is just text", body: `{"email":"\u202e\u0000\ud83d\ude00"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f form
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			err := Decode(httptest.NewRecorder(), r, 1024, &f)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d (%v)", e.Status, tt.wantStatus, e)
			}
			if tt.wantField != "" && e.Fields[tt.wantField] == "" {
				t.Errorf("fields = %v, want an entry for %s", e.Fields, tt.wantField)
			}
		})
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.org","count":2}`, `{"count":"x"}`, `[]`, `{"a":1}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var dst form
		err := DecodeJSON(strings.NewReader(body), 1024, &dst)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("decode returned a non-client error %T: %v", err, err)
		}
		if e != nil && (e.Status < 400 || e.Status > 499) {
			t.Fatalf("status %d for a client mistake", e.Status)
		}
	})
}

package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
	"unicode/utf8"
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
		encoding   string
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
		{name: "a literal replacement character is text", body: `{"email":"\ufffd �"}`},
		{name: "an escaped backslash before u is not an escape", body: `{"email":"\\ud800"}`},
		{name: "lone high surrogate", body: `{"email":"a\ud800"}`, wantStatus: 400, wantField: "email"},
		{name: "lone low surrogate", body: `{"email":"\uDC00x"}`, wantStatus: 400, wantField: "email"},
		{name: "high surrogate then a non-surrogate", body: `{"email":"\ud83d\u0041"}`, wantStatus: 400, wantField: "email"},
		{name: "two high surrogates", body: `{"email":"\ud83d\ud83d"}`, wantStatus: 400, wantField: "email"},
		{name: "surrogate in an array", body: `{"Tags":["ok","\udfff"]}`, wantStatus: 400, wantField: "Tags"},
		{name: "invalid UTF-8", body: "{\"email\":\"a\xff\"}", wantStatus: 400, wantField: "email"},
		{name: "encoded surrogate in UTF-8", body: "{\"email\":\"\xed\xa0\x80\"}", wantStatus: 400, wantField: "email"},
		{name: "truncated UTF-8", body: "{\"Tags\":[\"\xe2\x82\"]}", wantStatus: 400, wantField: "Tags"},
		{name: "gzip body", body: `{"email":"a@b.org"}`, encoding: "gzip", wantStatus: 415},
		{name: "two codings", body: `{"email":"a@b.org"}`, encoding: "identity, br", wantStatus: 415},
		{name: "identity coding is none", body: `{"email":"a@b.org"}`, encoding: "identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f form
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			if tt.encoding != "" {
				r.Header.Set("Content-Encoding", tt.encoding)
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

// stalled is a body whose client stopped sending: the server's read
// deadline fires.
type stalled struct{ sent bool }

func (s *stalled) Read(p []byte) (int, error) {
	if !s.sent {
		s.sent = true
		return copy(p, `{"email":"a`), nil
	}
	return 0, fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)
}

// TestDecodeReadFailures: a body that stops arriving is a 408, one cut
// short a 400, and neither is parsed.
func TestDecodeReadFailures(t *testing.T) {
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
	}{
		{name: "read deadline", body: &stalled{}, wantStatus: http.StatusRequestTimeout},
		{name: "connection cut", body: io.MultiReader(strings.NewReader(`{"em`), iotest.ErrReader(io.ErrUnexpectedEOF)), wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f form
			err := DecodeJSON(tt.body, 1024, &f)
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.wantStatus {
				t.Fatalf("err = %v, want status %d", err, tt.wantStatus)
			}
		})
	}
}

func TestFieldAt(t *testing.T) {
	tests := []struct {
		name, body, at string // at: the text whose first byte is looked up
		want           string
	}{
		{name: "top-level value", body: `{"a":"X"}`, at: "X", want: "a"},
		{name: "nested value", body: `{"a":1,"b":{"c":[true,"X"]}}`, at: "X", want: "b.c"},
		{name: "after a closed object", body: `{"a":{"b":"y"},"c":"X"}`, at: "X", want: "c"},
		{name: "in a key", body: `{"a":{"Xk":1}}`, at: "X", want: "a"},
		{name: "in a top-level key", body: `{"Xk":1}`, at: "X", want: ""},
		{name: "in an array of objects", body: `[{"a":"X"}]`, at: "X", want: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fieldAt([]byte(tt.body), strings.Index(tt.body, tt.at)); got != tt.want {
				t.Errorf("fieldAt = %q, want %q", got, tt.want)
			}
		})
	}
}

// wellFormedString is the slow reference for badText: it unescapes a
// JSON string's contents into UTF-16 code units and asks whether they
// are well-formed UTF-16 from raw UTF-8 that was valid.
func wellFormedString(s string) bool {
	var units []uint16
	for i := 0; i < len(s); {
		if s[i] == '\\' {
			if s[i+1] == 'u' {
				v, _ := strconv.ParseUint(s[i+2:i+6], 16, 16)
				units = append(units, uint16(v))
				i += 6
			} else {
				units = append(units, uint16(s[i+1]))
				i += 2
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		units = utf16.AppendRune(units, r)
		i += size
	}
	for i := 0; i < len(units); i++ {
		switch u := units[i]; {
		case u >= 0xD800 && u < 0xDC00:
			if i+1 >= len(units) || units[i+1] < 0xDC00 || units[i+1] >= 0xE000 {
				return false
			}
			i++
		case u >= 0xDC00 && u < 0xE000:
			return false
		}
	}
	return true
}

// FuzzCheckText: for any JSON string value, checkText refuses exactly
// the ones the UTF-16 reference calls ill-formed, and names the field.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{`plain`, `\ud83d\ude00`, `\ud800`, `\udc00`, `\\ud800`, "\xff", "\xed\xa0\x80", `\ud83d\u0041`, `\"\ud800`, "\uFFFD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		body := []byte(`{"email":"` + s + `"}`)
		var m map[string]string
		if !json.Valid(body) || json.Unmarshal(body, &m) != nil {
			return
		}
		e := checkText(body)
		if want := wellFormedString(s); (e == nil) != want {
			t.Fatalf("%q: checkText = %v, reference says well-formed = %v", s, e, want)
		}
		if e != nil && (e.Status != 400 || e.Fields["email"] == "") {
			t.Fatalf("%q: %+v, want a 400 naming email", s, e)
		}
	})
}

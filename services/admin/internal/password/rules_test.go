package password

import (
	"runtime"
	"strings"
	"testing"
)

func TestBlocklistLoads(t *testing.T) {
	t.Parallel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b, err := LoadBlocklist()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if b.Len() < 100_000 {
		t.Fatalf("the list holds %d passwords, want at least 100,000", b.Len())
	}
	t.Logf("blocklist: %d entries, %d bytes held (heap grew by %d bytes)", b.Len(), b.Bytes(),
		int64(after.HeapAlloc)-int64(before.HeapAlloc))
	for _, pw := range []string{"password1234", "PASSWORD1234", "iloveyou2", "qwertyuiop"} {
		if !b.Contains(pw) {
			t.Errorf("%q is not on the list", pw)
		}
	}
	for _, pw := range []string{"correct horse battery staple", "analytical engine", "", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"} {
		if b.Contains(pw) {
			t.Errorf("%q is on the list", pw)
		}
	}
}

func TestBlocklistBisection(t *testing.T) {
	t.Parallel()
	b := NewBlocklist([]string{"delta", "Alpha", "charlie", "bravo", "ALPHA", "echo"})
	if b.Len() != 5 {
		t.Fatalf("Len = %d, want 5 (case duplicates merged)", b.Len())
	}
	for _, s := range []string{"alpha", "BRAVO", "charlie", "delta", "echo"} {
		if !b.Contains(s) {
			t.Errorf("%q missing", s)
		}
	}
	for _, s := range []string{"", "a", "alph", "alphaa", "foxtrot", "zulu"} {
		if b.Contains(s) {
			t.Errorf("%q found", s)
		}
	}
	var empty *Blocklist
	if empty.Contains("x") {
		t.Error("a nil list refuses something")
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	r := Rules{MinLength: 12, Blocklist: NewBlocklist([]string{"password1234", "letmeinletmein"})}
	tests := []struct {
		name, pw, email, person string
		want                    string // a word of the message; "" accepts
	}{
		{name: "good", pw: "correct horse battery staple", email: "ada@example.org", person: "Ada Lovelace"},
		{name: "too short", pw: "short", email: "ada@example.org", want: "at least 12"},
		{name: "characters count, not bytes", pw: "ééééééééééé", want: "at least 12"},
		{name: "too long", pw: strings.Repeat("x", MaxBytes+1), want: "at most"},
		{name: "common", pw: "Password1234", email: "x@example.org", want: "too common"},
		{name: "common with spaces", pw: " letmeinletmein ", email: "x@example.org", want: "too common"},
		{name: "contains the local part", pw: "my name is adalovelace!", email: "AdaLovelace@example.org", want: "email"},
		{name: "contains the name", pw: "i am ada lovelace, hello", email: "x@example.org", person: "Ada Lovelace", want: "name"},
		{name: "short names do not count", pw: "jo is a long enough password", email: "jo@example.org", person: "Jo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Check(tt.pw, tt.email, tt.person)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("Check = %q, want %q", got, tt.want)
			}
		})
	}
}

func BenchmarkBlocklistContains(b *testing.B) {
	list, err := LoadBlocklist()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		list.Contains("not on any list, surely")
	}
}

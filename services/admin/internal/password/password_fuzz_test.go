package password

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary stored hashes to decode: it returns sane
// parameters, a salt and a key, or ErrMalformed; never a panic.
func FuzzDecode(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=0,t=2,p=1$$")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, encoded string) {
		p, salt, key, err := decode(encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode(%q): %v, want ErrMalformed", encoded, err)
			}
			return
		}
		if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("decode(%q) accepted %+v salt %d key %d", encoded, p, len(salt), len(key))
		}
	})
}

package password

import (
	"context"
	"errors"
	"strings"
	"testing"
)

var weak = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewHasher(weak, 2)
	if err != nil {
		t.Fatal(err)
	}
	stronger, err := NewHasher(Params{MemoryKiB: 128, Time: 1, Threads: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash = %s", enc)
	}
	tests := []struct {
		name       string
		hasher     *Hasher
		encoded    string
		pw         string
		wantOK     bool
		wantRehash bool
		wantErr    error
	}{
		{name: "right password", hasher: h, encoded: enc, pw: "correct horse battery", wantOK: true},
		{name: "wrong password", hasher: h, encoded: enc, pw: "correct horse batterz"},
		{name: "empty password", hasher: h, encoded: enc, pw: ""},
		{name: "stronger params ask for rehash", hasher: stronger, encoded: enc, pw: "correct horse battery", wantOK: true, wantRehash: true},
		{name: "dummy never matches", hasher: h, encoded: h.Dummy(), pw: ""},
		{name: "bcrypt hash", hasher: h, encoded: "$2a$10$abcdefghijklmnopqrstuv", wantErr: ErrMalformed},
		{name: "argon2i", hasher: h, encoded: strings.Replace(enc, "argon2id", "argon2i", 1), wantErr: ErrMalformed},
		{name: "zero memory", hasher: h, encoded: strings.Replace(enc, "m=64", "m=0", 1), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := tt.hasher.Verify(ctx, tt.encoded, tt.pw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if ok != tt.wantOK || rehash != tt.wantRehash {
				t.Fatalf("ok, rehash = %v, %v; want %v, %v", ok, rehash, tt.wantOK, tt.wantRehash)
			}
		})
	}
}

func TestSaltsDiffer(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(weak, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := h.Hash(context.Background(), "same password!")
	b, _ := h.Hash(context.Background(), "same password!")
	if a == b {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

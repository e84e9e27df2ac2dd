package booking

import (
	"crypto/sha256"
)

// IdempotencyKey is a request's Idempotency-Key with what scopes it. The
// same key from another client, or for another route, is another key:
// whoever learns or guesses someone's key gets neither that person's
// booking back nor a sign that the key was used (issue 13, finding 6).
type IdempotencyKey struct {
	// Key is the header as sent; empty means none.
	Key string
	// Route names the operation, e.g. "POST /api/sessions/book".
	Route string
	// Client is the client's address as seen through the trusted
	// proxies. Behind a shared NAT two people share it, which only
	// matters if one of them knows the other's key.
	Client string
}

// Digest is what is stored and looked up: SHA-256 over the route, the
// client and the key, so the table never holds a key as sent. No part can
// hold a NUL (the key is printable ASCII, checked by Book), so the
// separators keep ("a", "bc") and ("ab", "c") apart.
func (k IdempotencyKey) Digest() []byte {
	h := sha256.New()
	for _, part := range []string{k.Route, k.Client, k.Key} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

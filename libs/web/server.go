package web

import (
	"net/http"
	"time"
)

// ReadTimeout bounds reading a whole request, headers and body, on every
// server: a client that stalls is cut off (a JSON 408 where a handler is
// reading the body, Decode) instead of holding a connection forever.
const ReadTimeout = 30 * time.Second

// NewServer returns an http.Server with the timeouts every service uses.
// libs/lifecycle serves it and shuts it down. Its header cap is
// HardMaxHeaderBytes; the API's limit, MaxHeaderBytes, is enforced below
// it by HeaderLimits with a JSON 431.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      5 * time.Minute, // CSV exports stream for long
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    HardMaxHeaderBytes,
	}
}

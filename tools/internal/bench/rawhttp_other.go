//go:build !linux

package bench

import (
	"context"
	"errors"
)

// RunRawHTTP needs Linux (epoll, timerfd); see rawhttp_linux.go.
func (l Load) RunRawHTTP(ctx context.Context, addr string, req []byte) (RawResult, error) {
	return RawResult{}, errors.New("open loop: RunRawHTTP needs Linux")
}

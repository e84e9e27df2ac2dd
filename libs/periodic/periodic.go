// Package periodic runs housekeeping on a fixed interval: purges of rows
// and records that have outlived their use.
package periodic

import (
	"context"
	"time"
)

// Run calls fn at once and then every interval until ctx ends; it returns
// when ctx ends. fn gets ctx and handles its own errors (a purge that
// fails is logged and tried again next time).
func Run(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

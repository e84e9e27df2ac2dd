package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
)

// Drain returns the NATS stage of a service's shutdown
// (lifecycle.Config.NATS): it drains nc, so the acks and publishes of the
// last messages reach the server, and waits until the connection is
// closed, or closes it when ctx (the rest of the shutdown grace) ends
// first. The service's own closed handler, if any, still runs first.
func Drain(nc *nats.Conn, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if nc.IsClosed() {
			return nil
		}
		closed := make(chan struct{})
		prev := nc.ClosedHandler()
		nc.SetClosedHandler(func(c *nats.Conn) {
			if prev != nil {
				prev(c)
			}
			close(closed)
		})
		if err := nc.Drain(); err != nil {
			nc.Close()
			// Reconnecting: nothing can be flushed; unacked messages are
			// redelivered to the next consumer.
			if errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrConnectionClosed) {
				log.Warn("nats not connected at shutdown; closed without draining", "error", err.Error())
				return nil
			}
			return fmt.Errorf("drain nats: %w", err)
		}
		select {
		case <-closed:
			return nil
		case <-ctx.Done():
			nc.Close()
			return errors.New("drain nats: not finished when the shutdown grace ended")
		}
	}
}

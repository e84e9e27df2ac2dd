package stream

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOption adds what a service proves and checks when it connects:
// its identity (NKeyFile) and the authority of the server's certificate
// (CAFile).
type ConnectOption func(*connectOptions)

type connectOptions struct {
	nkeyFile string
	caFile   string
}

// NKeyFile makes the connection authenticate as the NATS user whose NKey
// seed the file holds: the service's identity, mounted from a Secret
// (NATS_NKEY_FILE). The seed is read when Connect is called, so a missing
// or malformed file fails the start rather than every reconnect; "" is no
// identity, for a server without authentication (make run, tests).
func NKeyFile(path string) ConnectOption {
	return func(o *connectOptions) { o.nkeyFile = path }
}

// CAFile makes the connection use TLS and trust the server's certificate
// only if the PEM authority in the file signed it (NATS_CA_FILE). A
// tls:// URL without it uses TLS against the system's authorities; ""
// adds nothing.
func CAFile(path string) ConnectOption {
	return func(o *connectOptions) { o.caFile = path }
}

// InboxPrefix is where the connection of service name receives replies:
// JetStream API answers, publish acknowledgements and pulled messages.
// Each service's permissions let it subscribe under its own prefix only,
// so no service can read the replies meant for another (Permissions).
func InboxPrefix(name string) string {
	return "_INBOX_" + unsafeToken.ReplaceAllString(name, "_")
}

// unsafeToken matches what may not appear in one token of a subject, or
// would read oddly in a permission list.
var unsafeToken = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// Connect dials NATS with unlimited reconnects, so an outage delays work
// instead of ending the process, and logs the connection's state changes
// and the server's asynchronous errors (a permission violation is
// reported only that way). name is the connection's name and, through
// InboxPrefix, where its replies arrive; with NKeyFile it is also the
// identity whose permissions the server applies, so it must be the
// service's name in Identities. A refused identity is retried like an
// outage: rotating a key on the servers before the service's Secret must
// not end the process for good.
func Connect(urls, name string, log *slog.Logger, opts ...ConnectOption) (*nats.Conn, jetstream.JetStream, error) {
	var o connectOptions
	for _, opt := range opts {
		opt(&o)
	}
	// The first failed attempt after a loss (or at start) is a warning:
	// it says why (refused identity, untrusted certificate, no server);
	// the retries that follow, every ReconnectWait, are debug lines.
	var failing atomic.Bool
	natsOpts := []nats.Option{
		nats.Name(name),
		nats.CustomInboxPrefix(InboxPrefix(name)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.IgnoreAuthErrorAbort(),
		nats.ConnectHandler(func(c *nats.Conn) {
			failing.Store(false)
			log.Info("nats connected", "url", c.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "error", errString(err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			failing.Store(false)
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if failing.CompareAndSwap(false, true) {
				log.Warn("nats connect failed; retrying", "error", errString(err))
				return
			}
			log.Debug("nats connect failed; retrying", "error", errString(err))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if authError(err) != nil && !failing.CompareAndSwap(false, true) {
				// A refused key on every reconnect attempt: said once.
				log.Debug("nats error", "error", errString(err))
				return
			}
			attrs := []any{"error", errString(err)}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			log.Warn("nats error", attrs...)
		}),
	}
	if o.nkeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(o.nkeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read nats identity %s: %w", o.nkeyFile, err)
		}
		natsOpts = append(natsOpts, opt)
	}
	if o.caFile != "" {
		natsOpts = append(natsOpts, nats.RootCAs(o.caFile))
	}
	nc, err := nats.Connect(urls, natsOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats %s: %w", Redact(urls), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream context: %w", err)
	}
	return nc, js, nil
}

// Redact returns a NATS URL list (comma-separated) with the password or
// token of each URL masked, for logs and errors.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			parts[i] = "(unparsable url)"
		case u.User == nil:
			parts[i] = u.String()
		default:
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a token
			}
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

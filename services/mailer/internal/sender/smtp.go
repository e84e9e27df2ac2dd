package sender

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/textproto"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/acube/platform/services/mailer/internal/email"
)

// TLS modes of SMTPConfig.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	// Host and Port of the server (required).
	Host string
	Port int
	// Username and Password enable SMTP AUTH (the best mechanism the
	// server offers); an empty Username means no AUTH.
	Username string
	Password string
	// TLS is none, starttls (required, never opportunistic) or tls
	// (implicit TLS, as on port 465) [none].
	TLS string
	// TLSConfig overrides the TLS settings, e.g. a private CA [system roots].
	TLSConfig *tls.Config
	// Timeout bounds dialing and each SMTP command [15s].
	Timeout time.Duration
	// SendTimeout bounds one email from the moment it has a connection:
	// when it passes, the connection is closed and the send fails
	// (transient). Waiting for a connection does not use it up [20s,
	// inside the consumers' 30 s AckWait].
	SendTimeout time.Duration
	// Conns is how many connections are kept open and reused [2].
	Conns int
}

func (c *SMTPConfig) setDefaults() {
	if c.TLS == "" {
		c.TLS = TLSNone
	}
	if c.Timeout <= 0 {
		c.Timeout = 15 * time.Second
	}
	if c.Conns <= 0 {
		c.Conns = 2
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 20 * time.Second
	}
}

// SMTP sends over a small pool of SMTP connections that stay open between
// emails; each is used by one send at a time and redialed after a network
// error.
type SMTP struct {
	client      *gomail.Client
	from        *netmail.Address
	log         *slog.Logger
	sendTimeout time.Duration
	// slots holds one entry per connection; a send takes one, so at most
	// Conns sends run at once, each on a connection of its own.
	slots chan *slot
}

// slot is one pooled connection; c is nil until dialed.
type slot struct {
	c *smtp.Client
}

// NewSMTP configures the pool; connections are dialed on first use.
func NewSMTP(cfg SMTPConfig, from *netmail.Address, log *slog.Logger) (*SMTP, error) {
	cfg.setDefaults()
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		// A NOOP before and a RSET after every message would triple the
		// round trips; a dead connection shows at MAIL FROM instead, and
		// Send redials and retries then, before any data was sent.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	switch cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("smtp tls mode %q: want none, starttls or tls", cfg.TLS)
	}
	if cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(cfg.TLSConfig))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("configure smtp client for %s: %w", cfg.Host, err)
	}
	s := &SMTP{client: client, from: from, log: log.With("component", "smtp"), sendTimeout: cfg.SendTimeout,
		slots: make(chan *slot, cfg.Conns)}
	for range cfg.Conns {
		s.slots <- &slot{}
	}
	return s, nil
}

// Send delivers m on a pooled connection. ctx bounds the wait for a free
// connection: a send that never got one was not attempted. Once it has
// one, the send runs to its end under SendTimeout, which starts then, and
// not under ctx's cancellation: cutting an email short on shutdown would
// only make its redelivery send it again. When the deadline passes the
// connection is closed, which ends the SMTP command under way.
func (s *SMTP) Send(ctx context.Context, m email.Message) (Receipt, error) {
	msg, err := Build(m, s.from)
	if err != nil {
		return Receipt{}, err
	}
	var sl *slot
	select {
	case sl = <-s.slots:
	case <-ctx.Done():
		return Receipt{}, &Error{Kind: KindTransient, Err: fmt.Errorf("wait for an smtp connection: %w", ctx.Err())}
	}
	defer func() { s.slots <- sl }()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.sendTimeout)
	defer cancel()

	for attempt := 1; ; attempt++ {
		reused := sl.c != nil
		if !reused {
			c, err := s.client.DialToSMTPClientWithContext(ctx)
			if err != nil {
				// A refused greeting or AUTH is about the connection, not
				// this message: transient, whatever its code.
				return Receipt{}, &Error{Kind: KindTransient, Code: replyCode(err), Err: fmt.Errorf("dial smtp server: %w", err)}
			}
			sl.c = c
		}
		err := s.sendOn(ctx, sl.c, msg)
		if err == nil {
			return Receipt{Response: msg.ServerResponse()}, nil
		}
		if ctx.Err() != nil {
			s.drop(sl) // closed by the deadline
			return Receipt{}, &Error{Kind: KindTransient, Err: fmt.Errorf("send within %s: %w", s.sendTimeout, err)}
		}
		e := classify(err)
		if e.Code == 0 {
			// No reply: the connection is broken or out of step.
			s.drop(sl)
			if reused && attempt == 1 && beforeData(err) {
				s.log.DebugContext(ctx, "smtp connection was closed; redialing", "error", err.Error())
				continue
			}
		} else if rerr := sl.c.Reset(); rerr != nil {
			s.drop(sl)
		}
		return Receipt{}, e
	}
}

// sendOn sends msg on c, closing c's connection if ctx ends first: the
// client's own lock is held for the command under way, so its Close would
// wait for the command; the text connection's Close does not.
func (s *SMTP) sendOn(ctx context.Context, c *smtp.Client, msg *gomail.Msg) error {
	text := c.Text
	stop := context.AfterFunc(ctx, func() { _ = text.Close() })
	defer stop()
	return s.client.SendWithSMTPClient(c, msg)
}

// Close ends every idle connection with QUIT. Sends still running keep
// their connections; call Close after the consumers have stopped.
func (s *SMTP) Close() error {
	var (
		errs []error
		idle []*slot
	)
	for range cap(s.slots) {
		select {
		case sl := <-s.slots:
			idle = append(idle, sl)
		default:
		}
	}
	for _, sl := range idle {
		if sl.c != nil {
			if err := sl.c.Quit(); err != nil {
				errs = append(errs, err)
			}
			sl.c = nil
		}
		s.slots <- sl
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close smtp connections: %w", err)
	}
	return nil
}

func (s *SMTP) drop(sl *slot) {
	if sl.c != nil {
		_ = sl.c.Close() // already broken; nothing to report
		sl.c = nil
	}
}

// classify turns a go-mail send error into an *Error: a 5xx reply is
// permanent, a 4xx reply transient; without a reply (network, timeout) it
// is transient, unless go-mail could not even read the message's own
// addresses.
func classify(err error) *Error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return &Error{Kind: KindTransient, Code: replyCode(err), Err: err}
	}
	code := se.ErrorCode()
	switch {
	case code >= 500:
		return &Error{Kind: KindPermanent, Code: code, Err: err}
	case code >= 400:
		return &Error{Kind: KindTransient, Code: code, Err: err}
	case se.Reason == gomail.ErrGetSender || se.Reason == gomail.ErrGetRcpts || se.Reason == gomail.ErrNoUnencoded:
		return &Error{Kind: KindPermanent, Err: err}
	default:
		return &Error{Kind: KindTransient, Err: err}
	}
}

// beforeData reports whether err happened before the message's content
// was sent, so retrying on a new connection cannot send it twice.
func beforeData(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrConnCheck, gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData:
		return true
	}
	return false
}

// replyCode digs the SMTP reply code out of err, or 0.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

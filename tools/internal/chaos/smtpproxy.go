package chaos

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RejectDomain is the domain whose recipients the SMTP proxy refuses with
// a 550: the load addresses some requests there so that their emails fail
// permanently and must end in DEADLETTER (the deadletter-outage scenario).
const RejectDomain = "reject.chaos.test"

// Arrival is one email the sink accepted, in the order the proxy saw the
// sink's 250 reply to its data: the order the emails arrived in.
type Arrival struct {
	// Seq numbers arrivals from 1.
	Seq int
	// MessageID is the Message-ID header without angle brackets.
	MessageID string
	// To are the accepted recipients, lower-cased.
	To []string
}

// SMTPProxy sits between the mailer and the SMTP sink (Mailpit, or the
// in-process libs/smtptest sink) and relays each session command by
// command, so that one mechanism serves both sinks: it refuses recipients
// at RejectDomain with a 550, delays every command while Slow is on, and
// records the order in which emails arrive.
//
// It relays in lock step (one command, then its whole reply), so it hides
// PIPELINING and CHUNKING from the EHLO reply: the client then never sends
// BDAT nor several commands at once.
type SMTPProxy struct {
	ln       net.Listener
	upstream string

	mu       sync.Mutex
	delay    time.Duration // while > 0, each command waits this long
	arrivals []Arrival
	dropped  int
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closed   bool
}

// StartSMTPProxy listens on a free loopback port and relays to upstream
// (host:port).
func StartSMTPProxy(upstream string) (*SMTPProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtp proxy: listen: %w", err)
	}
	p := &SMTPProxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Host is where the proxy listens.
func (p *SMTPProxy) Host() string { return "127.0.0.1" }

// Port is the proxy's TCP port.
func (p *SMTPProxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Slow makes every command read from now on wait d before it is relayed
// (0 ends it). A command whose client hangs up while it waits is dropped,
// not relayed: a server never sees what its client gave up on, so a
// timed-out email is never delivered behind the client's back.
func (p *SMTPProxy) Slow(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

func (p *SMTPProxy) currentDelay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay
}

// Arrivals returns the emails accepted so far, in arrival order.
func (p *SMTPProxy) Arrivals() []Arrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Arrival(nil), p.arrivals...)
}

// Dropped counts the commands dropped because their client hung up while
// they waited.
func (p *SMTPProxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

func (p *SMTPProxy) arrived(messageID string, to []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.arrivals = append(p.arrivals, Arrival{Seq: len(p.arrivals) + 1, MessageID: messageID, To: to})
}

// Close stops listening, cuts every session and waits for them to end.
func (p *SMTPProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("smtp proxy: close: %w", err)
	}
	return nil
}

func (p *SMTPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *SMTPProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *SMTPProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			defer c.Close()
			p.session(c)
		}()
	}
}

// line is one line the client sent, or the error that ended its input.
type line struct {
	text string
	err  error
}

// session relays one client connection.
func (p *SMTPProxy) session(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		_, _ = io.WriteString(client, "421 4.4.1 chaos proxy: sink unreachable\r\n")
		return
	}
	if !p.track(server) {
		_ = server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()
	srv := textproto.NewReader(bufio.NewReader(server))

	// The client's lines are read ahead, so that a hang-up is noticed
	// while a delayed command waits: gone closes once the client's input
	// has ended and everything before the end was handed over.
	lines := make(chan line, 64)
	gone := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(gone)
		r := bufio.NewReader(client)
		for {
			s, err := r.ReadString('\n')
			select {
			case lines <- line{text: s, err: err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// The greeting.
	if !p.relayReply(srv, client, false) {
		return
	}
	var rcpts []string
	for {
		l := <-lines
		if l.err != nil {
			return
		}
		if !p.wait(gone) {
			return
		}
		verb := strings.ToUpper(strings.TrimSpace(firstWord(l.text)))
		switch verb {
		case "RCPT":
			addr := rcptAddr(l.text)
			if strings.HasSuffix(addr, "@"+RejectDomain) {
				if _, err := io.WriteString(client, "550 5.1.1 <"+addr+">: mailbox unavailable (chaos run)\r\n"); err != nil {
					return
				}
				continue
			}
			if _, err := io.WriteString(server, l.text); err != nil {
				return
			}
			code, ok := p.relay(srv, client, false)
			if !ok {
				return
			}
			if code/100 == 2 {
				rcpts = append(rcpts, addr)
			}
		case "MAIL", "RSET":
			rcpts = nil
			if !p.forward(l.text, server, srv, client) {
				return
			}
		case "DATA":
			if _, err := io.WriteString(server, l.text); err != nil {
				return
			}
			code, ok := p.relay(srv, client, false)
			if !ok {
				return
			}
			if code != 354 {
				continue
			}
			msgID, ok := p.body(lines, gone, server)
			if !ok {
				return
			}
			// The arrival is recorded before the client hears of it: an
			// email the mailer sends only after this one's 250 always
			// arrives after it.
			to := rcpts
			if _, ok := p.relayThen(srv, client, func(code int) {
				if code/100 == 2 {
					p.arrived(msgID, to)
				}
			}); !ok {
				return
			}
			rcpts = nil
		case "EHLO":
			if _, err := io.WriteString(server, l.text); err != nil {
				return
			}
			if !p.relayReply(srv, client, true) {
				return
			}
		default:
			if !p.forward(l.text, server, srv, client) {
				return
			}
		}
	}
}

// wait holds a command while Slow is on; it reports false when the client
// hung up meanwhile, and the command is then dropped.
func (p *SMTPProxy) wait(gone <-chan struct{}) bool {
	d := p.currentDelay()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-gone:
		p.mu.Lock()
		p.dropped++
		p.mu.Unlock()
		return false
	}
}

// forward sends one command and relays its reply.
func (p *SMTPProxy) forward(cmd string, server net.Conn, srv *textproto.Reader, client net.Conn) bool {
	if _, err := io.WriteString(server, cmd); err != nil {
		return false
	}
	_, ok := p.relay(srv, client, false)
	return ok
}

// body relays the message up to its final "." line, which, like every
// command, waits while Slow is on, and returns its Message-ID.
func (p *SMTPProxy) body(lines <-chan line, gone <-chan struct{}, server net.Conn) (string, bool) {
	msgID, inHeader, inMsgID := "", true, false
	for {
		l := <-lines
		if l.err != nil {
			return "", false
		}
		text := strings.TrimRight(l.text, "\r\n")
		if text == "." {
			if !p.wait(gone) {
				return "", false
			}
		}
		if _, err := io.WriteString(server, l.text); err != nil {
			return "", false
		}
		if text == "." {
			return strings.Trim(msgID, "<>"), true
		}
		if inHeader {
			switch name, value, ok := strings.Cut(text, ":"); {
			case text == "":
				inHeader = false
			case text[0] == ' ' || text[0] == '\t':
				// A folded header goes on (go-mail folds a long
				// Message-ID onto the next line).
				if inMsgID {
					msgID += strings.TrimSpace(text)
				}
			case ok:
				inMsgID = strings.EqualFold(strings.TrimSpace(name), "Message-ID")
				if inMsgID {
					msgID = strings.TrimSpace(value)
				}
			}
		}
	}
}

func (p *SMTPProxy) relayReply(srv *textproto.Reader, client net.Conn, ehlo bool) bool {
	_, ok := p.relay(srv, client, ehlo)
	return ok
}

// relay copies one (possibly multi-line) reply from the server to the
// client and returns its code. For EHLO it leaves out PIPELINING and
// CHUNKING, which a lock-step relay cannot serve.
func (p *SMTPProxy) relay(srv *textproto.Reader, client net.Conn, ehlo bool) (int, bool) {
	return p.relayEHLO(srv, client, ehlo, nil)
}

// relayThen relays one reply like relay, calling before with its code
// before the client gets it.
func (p *SMTPProxy) relayThen(srv *textproto.Reader, client net.Conn, before func(code int)) (int, bool) {
	return p.relayEHLO(srv, client, false, before)
}

func (p *SMTPProxy) relayEHLO(srv *textproto.Reader, client net.Conn, ehlo bool, before func(code int)) (int, bool) {
	var reply []string
	for {
		s, err := srv.ReadLine()
		if err != nil {
			return 0, false
		}
		reply = append(reply, s)
		if len(s) < 4 || s[3] != '-' {
			break
		}
	}
	code, err := strconv.Atoi(reply[len(reply)-1][:min(3, len(reply[len(reply)-1]))])
	if err != nil {
		return 0, false
	}
	if ehlo {
		kept := reply[:0]
		for _, s := range reply {
			ext := strings.ToUpper(strings.TrimSpace(s[min(4, len(s)):]))
			if ext == "PIPELINING" || ext == "CHUNKING" {
				continue
			}
			kept = append(kept, s)
		}
		reply = kept
	}
	if before != nil {
		before(code)
	}
	var b strings.Builder
	for i, s := range reply {
		sep := "-"
		if i == len(reply)-1 {
			sep = " "
		}
		b.WriteString(s[:min(3, len(s))] + sep + s[min(4, len(s)):] + "\r\n")
	}
	if _, err := io.WriteString(client, b.String()); err != nil {
		return 0, false
	}
	return code, true
}

// firstWord is a command line's verb.
func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " :"); i >= 0 {
		return s[:i]
	}
	return s
}

// rcptAddr is the lower-cased address of "RCPT TO:<addr> params".
func rcptAddr(s string) string {
	_, rest, _ := strings.Cut(s, ":")
	rest = strings.TrimSpace(rest)
	if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
		rest = rest[1:i]
	} else if f := strings.Fields(rest); len(f) > 0 {
		rest = f[0]
	}
	return strings.ToLower(rest)
}

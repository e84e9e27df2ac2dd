package sender

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// job is one email handed to a connection's worker.
type job struct {
	env   envelope
	steps [3]step
	// deadline is SendTimeout from the moment a worker took the job.
	deadline time.Time
	// done takes the one result; buffered, so the worker never waits.
	done chan result
}

type result struct {
	reply string
	err   error
}

func (j *job) finish(reply string, err error) { j.done <- result{reply: reply, err: err} }

// work runs one connection: it takes jobs until Close, then ends the
// connection with QUIT.
func (s *SMTP) work() {
	var c *conn
	for {
		select {
		case j := <-s.jobs:
			c = s.run(c, s.take(j))
		case <-s.stop:
			if c != nil {
				// The last send's deadline may have passed long ago.
				err := c.deadline(s.timeout)
				if err == nil {
					err = c.c.Quit()
				}
				if err != nil {
					s.mu.Lock()
					s.quitErrs = append(s.quitErrs, err)
					s.mu.Unlock()
				}
			}
			return
		}
	}
}

// take starts j's deadline: from now on a worker has it.
func (s *SMTP) take(j *job) *job {
	j.deadline = time.Now().Add(s.sendTimeout)
	return j
}

// next takes a waiting job without waiting for one, for the worker to
// pipeline; nil when none waits or the sender is closing.
func (s *SMTP) next() *job {
	select {
	case <-s.stop:
		return nil
	default:
	}
	select {
	case j := <-s.jobs:
		return s.take(j)
	default:
		return nil
	}
}

// run sends j on c, dialing it if c is nil, and returns the connection for
// the next job, or nil when it was dropped.
//
// With PIPELINING run also sends the jobs that arrive meanwhile, in a
// chain: the write that carries one message's content also carries the
// next job's MAIL, RCPT and DATA (RFC 2920 lets a message's content begin
// a group of commands, and DATA end one), so the server answers the
// content and the next transaction's commands together and every email
// costs one round trip. Each job still gets its own answer, as soon as the
// reply to its content is in; what one job's failure does to the next
// follows from the protocol: a refused content ends only its own
// transaction, a lost connection leaves the next job unanswered, and it is
// sent again on a new one.
func (s *SMTP) run(c *conn, j *job) *conn {
	sent := false    // j's commands went out behind the previous content
	retried := false // j is being sent again on a new connection
	for j != nil {
		if c == nil {
			var err error
			if c, err = s.dial(j.deadline); err != nil {
				// A refused greeting or AUTH is about the connection, not
				// this message: transient, whatever its code.
				j.finish("", &Error{Kind: KindTransient, Code: replyCode(err), Err: fmt.Errorf("dial smtp server: %w", err)})
				return nil
			}
			sent = false
		}
		if !sent {
			steps, err := c.commands(j.env)
			if err != nil {
				j.finish("", err) // refused before anything was sent
				return c
			}
			j.steps = steps
		}
		reused := c.used
		err := c.deadline(s.timeout, j.deadline)
		if err == nil {
			err = c.open(j.steps, sent)
		}
		if err != nil {
			var ua *unansweredError
			if reused && !retried && errors.As(err, &ua) {
				s.log.Debug("smtp connection was closed; redialing", "error", err.Error())
				s.drop(c)
				c, retried = nil, true
				continue
			}
			return s.fail(c, j, err, true)
		}

		// j may send its content now; the next job's commands go with it.
		var next *job
		if c.ext.pipelining {
			if next = s.next(); next != nil {
				if next.steps, err = c.commands(next.env); err != nil {
					next.finish("", err)
					next = nil
				}
			}
		}
		writeDotted(c.c.Text.W, j.env.data)
		var nextDeadline time.Time
		if next != nil {
			c.write(next.steps[:])
			nextDeadline = next.deadline
		}
		var reply string
		if err = c.deadline(s.timeout, j.deadline, nextDeadline); err == nil {
			if err = c.c.Text.W.Flush(); err != nil {
				err = fmt.Errorf("send message: %w", err)
			}
		}
		if err == nil {
			reply, err = c.end()
		}
		if err != nil {
			c = s.fail(c, j, err, false) // the transaction is over either way
		} else {
			j.finish(reply, nil)
		}
		// A dropped connection took the next job's commands unanswered:
		// they go again on a new one.
		j, sent, retried = next, c != nil, false
	}
	return c
}

// fail ends j with err, classified, and returns c if it is still of use:
// after a refusal (4xx, 5xx) it is, once reset is done when asked for; no
// reply, a reply out of step or a 421 (the server closing) drop it.
func (s *SMTP) fail(c *conn, j *job, err error, reset bool) *conn {
	var local *Error
	if errors.As(err, &local) {
		j.finish("", local)
		return c
	}
	e := classify(err)
	if errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(j.deadline) {
		e.Err = fmt.Errorf("send within %s: %w", s.sendTimeout, err)
	}
	j.finish("", e)
	if e.Code < 400 || e.Code == 421 {
		s.drop(c)
		return nil
	}
	if reset {
		// RSET ends the transaction the refusal may have left open.
		if rerr := c.c.Reset(); rerr != nil {
			s.drop(c)
			return nil
		}
	}
	return c
}

// dial opens a connection (greeting, EHLO, TLS, AUTH) before deadline and
// reads what its server offers.
func (s *SMTP) dial(deadline time.Time) (*conn, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	c, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, err
	}
	has := func(name string) bool {
		ok, _ := c.Extension(name)
		return ok && !s.ignore[name]
	}
	return &conn{c: c, ext: extensions{pipelining: has("PIPELINING"), smtputf8: has("SMTPUTF8"), eightbit: has("8BITMIME")}}, nil
}

// drop closes a broken connection; there is nothing to report.
func (s *SMTP) drop(c *conn) {
	_ = c.c.Close()
}

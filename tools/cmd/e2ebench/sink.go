package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// arrival is one email the sink accepted: when it had the whole message
// (just before its 250 reply), to whom, and the UUIDs its text carries.
type arrival struct {
	at  time.Time
	to  []string
	ids []string
}

// sink is an in-process SMTP server that keeps only arrivals. It is its own
// small go-smtp backend rather than libs/smtptest, which keeps messages but
// not when they came.
type sink struct {
	srv *smtp.Server
	ln  net.Listener

	mu       sync.Mutex
	arrivals []arrival
	changed  chan struct{}
}

var uuidText = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sink: listen: %w", err)
	}
	s := &sink{ln: ln, changed: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }))
	s.srv.Domain = "sink.bench"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.MaxMessageBytes = 10 << 20
	go func() { _ = s.srv.Serve(ln) }() // returns when close stops it
	return s, nil
}

func (s *sink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *sink) close() {
	if err := s.srv.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "e2ebench: close the SMTP sink: %v\n", err)
	}
}

func (s *sink) record(a arrival) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.arrivals = append(s.arrivals, a)
	close(s.changed)
	s.changed = make(chan struct{})
}

// take returns the arrivals so far and forgets them.
func (s *sink) take() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.arrivals
	s.arrivals = nil
	return out
}

// count is how many arrivals wait to be taken, and a channel closed at the
// next one.
func (s *sink) count() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals), s.changed
}

type sinkSession struct {
	sink *sink
	to   []string
}

func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }

func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("sink: read message: %w", err)
	}
	at := time.Now()
	x.sink.record(arrival{at: at, to: x.to, ids: uuidText.FindAllString(string(b), -1)})
	x.to = nil
	return nil
}

func (x *sinkSession) Reset()        { x.to = nil }
func (x *sinkSession) Logout() error { return nil }

package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestParseAnswer(t *testing.T) {
	const body = `{"ok":true}`
	ok := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n" + body
	tests := []struct {
		name        string
		in          string
		wantStatus  int
		wantSize    int
		wantClosing bool
		wantErr     bool
	}{
		{name: "whole", in: ok, wantStatus: 200, wantSize: len(ok)},
		{name: "header incomplete", in: ok[:20]},
		{name: "body incomplete", in: ok[:len(ok)-3], wantStatus: 200},
		{name: "lower-case header", in: "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 2\r\n\r\nno", wantStatus: 429, wantSize: 55},
		{name: "connection close", in: "HTTP/1.1 503 x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", wantStatus: 503, wantSize: 56, wantClosing: true},
		{name: "no body on 204", in: "HTTP/1.1 204 No Content\r\n\r\n", wantStatus: 204, wantSize: 27},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: true},
		{name: "no length", in: "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", wantErr: true},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n\r\n", wantErr: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, size, closing, err := parseAnswer([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if status != tt.wantStatus || size != tt.wantSize || closing != tt.wantClosing {
				t.Errorf("parseAnswer = %d, %d, %v; want %d, %d, %v", status, size, closing, tt.wantStatus, tt.wantSize, tt.wantClosing)
			}
		})
	}
}

func TestParseAnswerAllocatesNothing(t *testing.T) {
	b := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	if n := testing.AllocsPerRun(100, func() { _, _, _, _ = parseAnswer(b) }); n != 0 {
		t.Errorf("parseAnswer allocates %.0f times", n)
	}
}

func TestRunRawHTTP(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RunRawHTTP needs Linux")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"items":[]}`)) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusInternalServerError) })
	mux.HandleFunc("/close", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = w.Write([]byte("bye"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	req := func(path string) []byte { return []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n") }
	load := Load{Rate: 2000, Warmup: 10 * time.Millisecond, Duration: 40 * time.Millisecond, Senders: 4}
	tests := []struct {
		name       string
		path       string
		wantErrors int
	}{
		{name: "answers counted", path: "/ok"},
		{name: "non-2xx is an error", path: "/fail", wantErrors: 80},
		{name: "server closing is followed", path: "/close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := load.RunRawHTTP(t.Context(), u.Host, req(tt.path))
			if err != nil {
				t.Fatal(err)
			}
			if res.Offered != 100 || res.Measured != 80 {
				t.Errorf("offered %d, measured %d; want 100, 80", res.Offered, res.Measured)
			}
			if res.Errors != tt.wantErrors || len(res.Latencies) != 80-tt.wantErrors || len(res.Lags) != 80 {
				t.Errorf("%d errors (%v), %d latencies, %d lags; want %d errors", res.Errors, res.FirstErr, len(res.Latencies), len(res.Lags), tt.wantErrors)
			}
			for _, l := range res.Latencies {
				if l <= 0 {
					t.Fatalf("latency %v not after the due time", l)
				}
			}
		})
	}
	t.Run("refused connection", func(t *testing.T) {
		closed := httptest.NewServer(mux)
		addr := closed.Listener.Addr().String()
		closed.Close()
		var st syscall.Stat_t
		stdin := syscall.Fstat(0, &st) == nil
		if _, err := load.RunRawHTTP(t.Context(), addr, req("/ok")); err == nil {
			t.Error("no error from a closed port")
		}
		// The senders not yet dialled must not close fd 0 on the way out
		// (it was the next run's listener once, refusing connections).
		if stdin && syscall.Fstat(0, &st) != nil {
			t.Error("a failed run closed fd 0")
		}
	})
	t.Run("zero rate", func(t *testing.T) {
		if _, err := (Load{}).RunRawHTTP(t.Context(), u.Host, req("/ok")); err == nil {
			t.Error("a zero rate was accepted")
		}
	})
	t.Run("context ends it", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		_, err := Load{Rate: 1000, Duration: time.Hour, Senders: 2}.RunRawHTTP(ctx, u.Host, req("/ok"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's", err)
		}
	})
}

// TestRunRawHTTPAllocatesNothingPerRequest compares the allocations of a
// run of 100 requests and one of 400 against a server that allocates
// nothing per answer: the loop itself must add none per request.
func TestRunRawHTTPAllocatesNothingPerRequest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RunRawHTTP needs Linux")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	mallocs := func(d time.Duration) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := Load{Rate: 4000, Duration: d, Senders: 4}.RunRawHTTP(t.Context(), ln.Addr().String(), req)
		runtime.ReadMemStats(&after)
		if err != nil || res.Errors != 0 {
			t.Fatalf("run: %v, %d errors (%v)", err, res.Errors, res.FirstErr)
		}
		return after.Mallocs - before.Mallocs
	}
	mallocs(25 * time.Millisecond) // connections' first allocations in the server
	short, long := mallocs(25*time.Millisecond), mallocs(100*time.Millisecond)
	t.Logf("allocations: %d for 100 requests, %d for 400", short, long)
	if long > short+30 {
		t.Errorf("%d allocations for 400 requests, %d for 100: the loop allocates per request", long, short)
	}
}

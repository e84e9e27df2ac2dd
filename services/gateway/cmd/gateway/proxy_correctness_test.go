package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	libconfig "github.com/acube/platform/libs/config"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/libs/web"
)

// This file is issue 15's proxy-correctness table: the real gateway, run
// through run() with each data path (GATEWAY_DATA_PATH), in front of one
// recording upstream per owner, spoken to over raw TCP with hand-written
// requests. A faster data path must not smuggle: every row runs on both.
//
// Each row starts its own gateway and upstreams, so rows are independent;
// after the exchange the gateway is stopped and the upstreams closed, so
// what they saw is complete before it is checked.

const (
	hostLine  = "Host: gateway.test"
	eventID   = "0192f0c4-7a35-7c4e-9d3a-5b6a1f0e2d11"
	imagePath = "/api/events/" + eventID + "/image"
	csvPath   = "/api/admin/exports/" + eventID + "/download"
	// uploadLimit and bodyLimit are MAX_UPLOAD_BYTES and MAX_BODY_BYTES
	// of every row: the upload route's limit differs from the others'.
	uploadLimit = 1000
	bodyLimit   = 500
	// smuggled is a second request hidden in a first one's bytes: no
	// upstream may ever see it.
	smuggled = "GET /api/events?smuggled=1 HTTP/1.1\r\n" + hostLine + "\r\n\r\n"
	// csvRows is the streamed export's size, and csvFirst the rows the
	// upstream writes before it waits for the client to have read them.
	csvRows  = 1_000_000
	csvFirst = 1000
)

// correctnessCase is one row: what the client sends, what it must get,
// and what the upstreams may have seen.
type correctnessCase struct {
	name string
	// env overrides the gateway's environment.
	env map[string]string
	// dead names an owner whose URL is a closed port.
	dead string
	// upstream replaces the default answer (200, JSON, echoing
	// X-Request-ID) of every upstream; the request was recorded and its
	// body read before it runs.
	upstream func(f *fixture) http.HandlerFunc
	// request is sent at once on a new connection, and one answer read.
	request string
	// exchange replaces request for rows of more than one step; it
	// returns the final answer.
	exchange func(t *testing.T, f *fixture) *answer
	// status lists the statuses accepted; more than one where RFC 9110/9112
	// allow more than one answer (each such row says why).
	status []int
	// jsonError wants the gateway's JSON error (DESIGN §2 shape).
	jsonError string
	// closed wants the gateway to close the connection after a refusal
	// (status >= 400; framing errors: RFC 9112 §6.3), closeAlways after
	// any answer (CL+TE: RFC 9112 §6.1).
	closed, closeAlways bool
	// client checks the answer.
	client func(t *testing.T, a *answer)
	// saw checks what the upstreams saw, after they stopped.
	saw func(t *testing.T, f *fixture, a *answer)
}

// TestProxyCorrectness runs the table against each data path.
func TestProxyCorrectness(t *testing.T) {
	for _, path := range []string{"nethttp", "fasthttp"} { // GATEWAY_DATA_PATH
		t.Run(path, func(t *testing.T) {
			for _, tc := range correctnessCases() {
				t.Run(tc.name, func(t *testing.T) { runCase(t, path, &tc) })
			}
		})
	}
}

func runCase(t *testing.T, path string, tc *correctnessCase) {
	f := startFixture(t, path, tc)
	var a *answer
	if tc.exchange != nil {
		a = tc.exchange(t, f)
	} else {
		c := f.dial(t)
		c.send(t, tc.request)
		a = c.read(t, methodOf(tc.request))
		if tc.closeAlways || tc.closed && a.status() >= 400 {
			if !c.closedByServer(t) {
				t.Errorf("the connection stayed open after %d: the rest of the bytes could be read as a request\n%s", a.status(), a.head)
			}
		}
		c.close()
	}
	f.stop(t)
	if a == nil {
		return
	}
	if len(tc.status) > 1 {
		t.Logf("answered %d (accepted: %v)", a.status(), tc.status)
	}
	if len(tc.status) > 0 && !slices.Contains(tc.status, a.status()) {
		t.Errorf("status %d, want one of %v\n%s%.300s", a.status(), tc.status, a.head, a.body)
	}
	if tc.jsonError != "" {
		checkJSONError(t, a, tc.jsonError)
	}
	if tc.client != nil {
		tc.client(t, a)
	}
	// No row may let a hidden request through.
	for _, s := range f.allSeen() {
		if strings.Contains(s.URI, "smuggled") {
			t.Errorf("the %s upstream saw a smuggled request: %s %s", s.Owner, s.Method, s.URI)
		}
	}
	if tc.saw != nil {
		tc.saw(t, f, a)
	}
}

func correctnessCases() []correctnessCase {
	rejected := []int{400}
	return []correctnessCase{
		// Hop-by-hop headers, request direction.
		{
			name: "hop-by-hop request headers are not forwarded",
			request: req("GET /api/events HTTP/1.1", hostLine, "Connection: keep-alive, X-Drop-Me, X-Drop-Too",
				"Keep-Alive: timeout=5", "Proxy-Connection: keep-alive", "TE: deflate", "Upgrade: foo/1",
				"Proxy-Authorization: Basic dXNlcjpwYXNz", "X-Drop-Me: 1", "X-Drop-Too: 2", "X-Keep-Me: 3"),
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				s := f.only(t, "booking")
				for _, h := range []string{"Keep-Alive", "Proxy-Connection", "Upgrade", "Proxy-Authorization", "X-Drop-Me", "X-Drop-Too"} {
					if v, ok := s.Header[h]; ok {
						t.Errorf("upstream saw %s: %q", h, v)
					}
				}
				// The proxy may announce its own trailer support (TE:
				// trailers, which it can honour), never the client's TE.
				if te := s.Header.Get("Te"); te != "" && te != "trailers" {
					t.Errorf("upstream saw TE: %q", te)
				}
				for _, tok := range tokens(s.Header["Connection"]) {
					if tok != "keep-alive" && tok != "close" {
						t.Errorf("upstream saw Connection token %q", tok)
					}
				}
				if s.Header.Get("X-Keep-Me") != "3" {
					t.Errorf("an end-to-end header was lost: %v", s.Header)
				}
			},
		},
		{
			name: "a chunked request is re-framed and its Connection tokens dropped",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Transfer-Encoding: chunked", "Connection: X-Drop-Me", "X-Drop-Me: 1") +
				chunked(`{"name":"Ada",`, `"message":"chunked"}`),
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				s := f.only(t, "booking")
				if string(s.Body) != `{"name":"Ada","message":"chunked"}` || s.BodyErr != nil {
					t.Errorf("upstream body %q (%v)", s.Body, s.BodyErr)
				}
				if _, ok := s.Header["X-Drop-Me"]; ok {
					t.Error("upstream saw X-Drop-Me, named by the client's Connection")
				}
				checkFraming(t, s.RawHead)
			},
		},
		// Hop-by-hop headers, response direction.
		{
			name:    "hop-by-hop response headers are not forwarded",
			request: req("GET /api/events HTTP/1.1", hostLine),
			upstream: func(*fixture) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					h := w.Header()
					h.Set("Connection", "X-Secret")
					h.Set("X-Secret", "1")
					h.Set("Keep-Alive", "timeout=5")
					h.Set("Proxy-Connection", "keep-alive")
					h.Set("Proxy-Authenticate", `Basic realm="upstream"`)
					h.Set("Upgrade", "foo/1")
					h.Set("X-Public", "ok")
					web.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
				}
			},
			status: []int{200},
			client: func(t *testing.T, a *answer) {
				for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Upgrade"} {
					if v, ok := a.resp.Header[h]; ok {
						t.Errorf("client saw %s: %q", h, v)
					}
				}
				for _, tok := range tokens(a.resp.Header["Connection"]) {
					if tok != "keep-alive" && tok != "close" {
						t.Errorf("client saw Connection token %q", tok)
					}
				}
				if a.resp.Header.Get("X-Public") != "ok" {
					t.Errorf("an end-to-end header was lost:\n%s", a.head)
				}
			},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				// The row tests something only if the upstream did send them.
				if out := f.up["booking"].written(); !strings.Contains(out, "X-Secret: 1") || !strings.Contains(out, "Connection: X-Secret") {
					t.Errorf("the upstream did not send its hop-by-hop headers:\n%s", out)
				}
			},
		},
		{
			// Requests sent back to back on one connection (RFC 9112
			// §9.3.2) are answered in order, bodies not mixed up.
			name: "pipelined requests are answered in order",
			exchange: func(t *testing.T, f *fixture) *answer {
				c := f.dial(t)
				defer c.close()
				c.send(t, req("POST /api/contact?n=1 HTTP/1.1", hostLine, "Content-Type: application/json", "Content-Length: 2")+"{}"+
					req("GET /api/events?n=2 HTTP/1.1", hostLine)+
					req("POST /api/contact?n=3 HTTP/1.1", hostLine, "Content-Type: application/json", "Transfer-Encoding: chunked")+chunked("[1]"))
				var last *answer
				for i, m := range []string{"POST", "GET", "POST"} {
					last = c.read(t, m)
					want := []string{"/api/contact?n=1", "/api/events?n=2", "/api/contact?n=3"}[i]
					if got := last.resp.Header.Get("X-Seen-Uri"); last.status() != 200 || got != want {
						t.Errorf("answer %d: %d for %q, want 200 for %q", i+1, last.status(), got, want)
					}
				}
				return last
			},
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				if seen := f.allSeen(); len(seen) != 3 {
					t.Errorf("the upstreams saw %d requests, want 3", len(seen))
				}
			},
		},
		// Response framing.
		{
			// RFC 9112 §6.3: in a response, Transfer-Encoding overrides
			// Content-Length, and a proxy forwards one framing only.
			name:    "an upstream answer with Content-Length and Transfer-Encoding",
			request: req("GET /api/events HTTP/1.1", hostLine),
			upstream: rawUpstream("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n" +
				"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
			status: []int{200, 502},
			client: func(t *testing.T, a *answer) {
				checkFraming(t, a.head)
				if a.status() == 200 && string(a.body) != "{}" {
					t.Errorf("body %q, want the chunked body", a.body)
				}
			},
		},
		{
			// Bytes an upstream sends after its answer answer no request:
			// taken for the next request's answer, they would reach
			// another client (response queue poisoning).
			name: "an upstream's unsolicited bytes never answer another request",
			// A proxy that reuses the connection the bytes came on waits
			// for an answer that never comes: not what this row checks,
			// so that wait is short.
			env: map[string]string{"UPSTREAM_HEADER_TIMEOUT": "1s"},
			upstream: rawUpstream("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" +
				"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"poison\":1}"),
			exchange: func(t *testing.T, f *fixture) *answer {
				var last *answer
				for i := range 3 {
					c := f.dial(t)
					c.send(t, req("GET /api/events?n="+strconv.Itoa(i)+" HTTP/1.1", hostLine))
					last = c.read(t, "GET")
					c.close()
					if strings.Contains(string(last.body), "poison") {
						t.Errorf("request %d got the bytes an upstream sent unasked: %s", i, last.body)
					} else if last.status() != 200 {
						t.Logf("request %d: %d %s (the connection was reused)", i, last.status(), last.body)
					}
				}
				return last
			},
		},
		// Trailers.
		{
			name: "request trailers are not forwarded as headers",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Transfer-Encoding: chunked", "Trailer: X-Trailer-Secret") +
				"2\r\n{}\r\n0\r\nX-Trailer-Secret: 1\r\n\r\n",
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				s := f.only(t, "booking")
				if v, ok := s.Header["X-Trailer-Secret"]; ok {
					t.Errorf("upstream saw the trailer as a header: %q", v)
				}
				if strings.Contains(strings.ToLower(s.RawHead), "x-trailer-secret: ") {
					t.Errorf("upstream's header block has the trailer:\n%s", s.RawHead)
				}
				if string(s.Body) != "{}" {
					t.Errorf("upstream body %q", s.Body)
				}
			},
		},
		{
			name:    "upstream trailers do not become headers",
			request: req("GET /api/events HTTP/1.1", hostLine),
			upstream: func(*fixture) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Trailer", "X-Checksum")
					w.Header().Set("Content-Type", "text/csv")
					_, _ = io.WriteString(w, "a,b\n")
					http.NewResponseController(w).Flush()
					_, _ = io.WriteString(w, "1,2\n")
					w.Header().Set("X-Checksum", "abc")
					w.Header().Set(http.TrailerPrefix+"X-Late", "1")
				}
			},
			status: []int{200},
			client: func(t *testing.T, a *answer) {
				for _, h := range []string{"X-Checksum", "X-Late"} {
					if v, ok := a.resp.Header[h]; ok {
						t.Errorf("client saw the trailer %s as a header: %q", h, v)
					}
				}
				if string(a.body) != "a,b\n1,2\n" {
					t.Errorf("body %q", a.body)
				}
			},
		},
		// A streamed export.
		{
			name:     "a streamed CSV export arrives before the upstream has finished, and whole",
			upstream: csvUpstream,
			exchange: csvExchange,
			status:   []int{200},
		},
		// Answer bodies of known length: a small one is read whole before
		// it is passed on (fasthttp path), a large one streams.
		{
			name:     "a large answer with a Content-Length streams, and arrives whole",
			upstream: sizedUpstream,
			exchange: sizedExchange,
			status:   []int{200},
		},
		{
			// The fasthttp path reads a small body whole and answers 502
			// when it ends early; the net/http path has passed the
			// headers on already and can only cut the answer short.
			name: "an answer that ends before its Content-Length never arrives as whole",
			upstream: func(*fixture) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
						_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cut\":")
						conn.Close()
					}
				}
			},
			exchange: cutExchange,
			status:   []int{200, 502},
		},
		// Uploads.
		{
			name: "an upload of exactly the limit passes",
			request: req("PUT "+imagePath+" HTTP/1.1", hostLine, "Content-Type: image/png",
				"Content-Length: "+strconv.Itoa(uploadLimit)) + strings.Repeat("u", uploadLimit),
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				if s := f.only(t, "booking"); len(s.Body) != uploadLimit || s.BodyErr != nil {
					t.Errorf("upstream got %d bytes (%v), want %d", len(s.Body), s.BodyErr, uploadLimit)
				}
			},
		},
		{
			name: "a chunked upload of exactly the limit passes",
			request: req("PUT "+imagePath+" HTTP/1.1", hostLine, "Content-Type: image/png", "Transfer-Encoding: chunked") +
				chunked(strings.Repeat("u", 600), strings.Repeat("u", uploadLimit-600)),
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				if s := f.only(t, "booking"); len(s.Body) != uploadLimit || s.BodyErr != nil {
					t.Errorf("upstream got %d bytes (%v), want %d", len(s.Body), s.BodyErr, uploadLimit)
				}
			},
		},
		{
			name: "an upload one byte over the limit gets a JSON 413",
			request: req("PUT "+imagePath+" HTTP/1.1", hostLine, "Content-Type: image/png",
				"Content-Length: "+strconv.Itoa(uploadLimit+1)) + strings.Repeat("u", uploadLimit+1),
			status: []int{413}, jsonError: "Request body too large",
			saw: noneSaw,
		},
		{
			name: "a declared length over the limit gets 413 before the body is sent",
			// Only the head is sent: the answer must come without the
			// body. A body sent after all must not be read as requests.
			exchange: refusedBeforeBody(req("PUT "+imagePath+" HTTP/1.1", hostLine, "Content-Type: image/png",
				"Content-Length: 1000000")),
			status: []int{413}, jsonError: "Request body too large",
			saw: noneSaw,
		},
		{
			name: "a chunked upload over the limit gets a JSON 413",
			request: req("PUT "+imagePath+" HTTP/1.1", hostLine, "Content-Type: image/png", "Transfer-Encoding: chunked") +
				chunked(strings.Repeat("u", 600), strings.Repeat("u", uploadLimit-600+1)),
			status: []int{413}, jsonError: "Request body too large",
			saw: noCompleteBody,
		},
		// Expect: 100-continue.
		{
			name: "Expect: 100-continue gets 100, then the upstream's answer",
			exchange: func(t *testing.T, f *fixture) *answer {
				c := f.dial(t)
				defer c.close()
				c.send(t, req("PUT "+imagePath+" HTTP/1.1", hostLine, "Content-Type: image/png",
					"Content-Length: 10", "Expect: 100-continue"))
				if a := c.read(t, "PUT"); a.status() != http.StatusContinue {
					t.Fatalf("first answer %d, want 100 Continue\n%s%s", a.status(), a.head, a.body)
				}
				c.send(t, "0123456789")
				return c.read(t, "PUT")
			},
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				if s := f.only(t, "booking"); string(s.Body) != "0123456789" {
					t.Errorf("upstream body %q (%v)", s.Body, s.BodyErr)
				}
			},
		},
		{
			name: "Expect: 100-continue with a length over the limit gets 413 and no 100",
			// The client may send the body anyway (RFC 9110 §10.1.1): it
			// must not be read as requests.
			exchange: refusedBeforeBody(req("PUT "+imagePath+" HTTP/1.1", hostLine, "Content-Type: image/png",
				"Content-Length: 5000", "Expect: 100-continue")),
			status: []int{413}, jsonError: "Request body too large",
			saw: noneSaw,
		},
		// Upgrades.
		{
			name: "Upgrade: websocket is refused",
			request: req("GET /api/events HTTP/1.1", hostLine, "Connection: Upgrade", "Upgrade: websocket",
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"),
			upstream: upgradingUpstream,
			client:   refusedUpgrade,
			saw:      noUpgradeSeen,
		},
		{
			name: "Upgrade: h2c is refused",
			request: req("GET /api/events HTTP/1.1", hostLine, "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c",
				"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"),
			upstream: upgradingUpstream,
			client:   refusedUpgrade,
			saw:      noUpgradeSeen,
		},
		// Request smuggling.
		{
			// RFC 9112 §6.1: a server MAY reject CL+TE or process the
			// request by its Transfer-Encoding alone, and MUST close the
			// connection after answering either way. With CL framing
			// the body would be the hidden request; with TE framing and
			// the connection kept, the hidden request would be served.
			name: "Content-Length with Transfer-Encoding",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Content-Length: "+strconv.Itoa(len("0\r\n\r\n"+smuggled)), "Transfer-Encoding: chunked") +
				"0\r\n\r\n" + smuggled,
			status: []int{400, 200}, closeAlways: true,
			saw: emptyBodyIfForwarded,
		},
		{
			name: "Transfer-Encoding with Content-Length (TE first)",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Transfer-Encoding: chunked", "Content-Length: "+strconv.Itoa(len("0\r\n\r\n"+smuggled))) +
				"0\r\n\r\n" + smuggled,
			status: []int{400, 200}, closeAlways: true,
			saw: emptyBodyIfForwarded,
		},
		{
			// RFC 9112 §6.3 (5): an invalid Content-Length: 400 and close.
			name: "two different Content-Lengths",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Content-Length: 2", "Content-Length: "+strconv.Itoa(2+len(smuggled))) + "{}" + smuggled,
			status: rejected, closed: true, saw: noneSaw,
		},
		{
			// RFC 9110 §8.6: a recipient MAY reject duplicated equal
			// values or replace them with one.
			name: "two equal Content-Lengths",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Content-Length: 2", "Content-Length: 2") + "{}",
			status: []int{400, 200},
			saw: func(t *testing.T, f *fixture, a *answer) {
				for _, s := range f.allSeen() {
					if string(s.Body) != "{}" || len(s.Header.Values("Content-Length")) > 1 || strings.Count(strings.ToLower(s.RawHead), "content-length:") > 1 {
						t.Errorf("upstream saw body %q with\n%s", s.Body, s.RawHead)
					}
				}
			},
		},
		{
			name: "a Content-Length that is not a number",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Content-Length: 2x") + "{}" + smuggled,
			status: rejected, closed: true, saw: noneSaw,
		},
		{
			// RFC 9112 §5.2: obs-fold is rejected with 400, or replaced
			// by spaces before the field is interpreted or forwarded; the
			// folded line is part of X-Folded, never a Transfer-Encoding.
			name: "obs-fold hiding a Transfer-Encoding",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Content-Length: "+strconv.Itoa(len("0\r\n\r\n"+smuggled)), "X-Folded: a", " Transfer-Encoding: chunked") +
				"0\r\n\r\n" + smuggled,
			status: []int{400, 200}, closed: true,
			saw: func(t *testing.T, f *fixture, a *answer) {
				for _, s := range f.allSeen() {
					if string(s.Body) != "0\r\n\r\n"+smuggled {
						t.Errorf("the fold was read as a Transfer-Encoding: upstream body %q", s.Body)
					}
					checkNoFold(t, s.RawHead)
				}
			},
		},
		{
			name:    "obs-fold in a plain header",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Folded: a", "\tb"),
			status:  []int{400, 200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				for _, s := range f.allSeen() {
					if v := s.Header.Get("X-Folded"); v != "a b" && v != "a  b" && v != "a \tb" {
						t.Errorf("upstream saw X-Folded %q", v)
					}
					checkNoFold(t, s.RawHead)
				}
			},
		},
		{
			// RFC 9112 §2.2: whitespace before the first field line MUST
			// be rejected or the line ignored.
			name:    "a line starting with a space before the first header",
			request: "GET /api/events HTTP/1.1\r\n X-Hidden: 1\r\n" + hostLine + "\r\n\r\n",
			status:  []int{400, 200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				for _, s := range f.allSeen() {
					if strings.Contains(s.RawHead, "X-Hidden") {
						t.Errorf("upstream saw the hidden line:\n%s", s.RawHead)
					}
				}
			},
		},
		{
			// RFC 9112 §2.2: a recipient MAY take a bare LF for a line end;
			// whatever it does, it forwards CRLF lines only. One that does
			// not (fasthttp's parser) sees a head that never ends and
			// times it out: 408 after the header timeout, nothing
			// forwarded.
			name:    "bare LF line endings",
			request: "GET /api/events HTTP/1.1\n" + hostLine + "\nX-Bare: 1\n\n",
			status:  []int{400, 200, 408},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				for _, s := range f.allSeen() {
					if s.Header.Get("X-Bare") != "1" {
						t.Errorf("upstream saw %v", s.Header)
					}
					checkNoBareLF(t, s.RawHead)
				}
			},
		},
		{
			// If a bare LF ended a line for the gateway and not for the
			// upstream (or the reverse), the two would frame the body
			// differently: read either way, the gateway forwards one
			// request whose body is the declared bytes.
			name: "a bare LF inside the header block",
			request: "POST /api/contact HTTP/1.1\r\n" + hostLine + "\r\nX-Foo: 1\nContent-Length: " +
				strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled,
			status: []int{400, 200}, closed: true,
			saw: func(t *testing.T, f *fixture, _ *answer) {
				for _, s := range f.allSeen() {
					if string(s.Body) != smuggled {
						t.Errorf("upstream body %q", s.Body)
					}
					checkNoBareLF(t, s.RawHead)
				}
			},
		},
		{
			// RFC 9110 §5.5: a CR in a field value is refused or made a
			// space; passed on, it could end the line at the upstream.
			name:    "a bare CR inside a field value",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Forwarded-Host: a\rX-Injected: 1"),
			status:  []int{400, 200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				for _, s := range f.allSeen() {
					if strings.Contains(s.RawHead, "\r\nX-Injected") || strings.Contains(s.RawHead, "a\r") {
						t.Errorf("upstream saw the CR:\n%q", s.RawHead)
					}
				}
			},
		},
		{
			// RFC 9112 §7.1 and erratum 7633: chunk lines end in CRLF.
			name: "a bare LF after a chunk size",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json", "Transfer-Encoding: chunked") +
				"2\n{}\r\n0\r\n\r\n" + smuggled,
			status: rejected, closed: true, saw: noCompleteBody,
		},
		badChunk("a chunk size that is not hex", "zz"),
		badChunk("a negative chunk size", "-2"),
		badChunk("a chunk size that overflows 64 bits", "10000000000000002"),
		badChunk("a chunk size with a leading space", " 2"),
		badChunk("a chunk size with a space inside", "2 2"),
		badChunk("a chunk size with a 0x prefix", "0x2"),
		// RFC 9112 §6.1: chunked not last is a 400; a coding the server
		// does not know SHOULD be a 501. Either refuses the request.
		badTE("Transfer-Encoding: gzip, chunked"),
		badTE("Transfer-Encoding: chunked, identity"),
		badTE("Transfer-Encoding: identity"),
		{
			// identity is no transfer coding (RFC 9112 §7): read as "no
			// body", the next bytes would be served as a request.
			name: "Transfer-Encoding: identity hiding a request",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Transfer-Encoding: identity") + smuggled,
			status: []int{400, 501}, closed: true, saw: noneSaw,
		},
		badTE("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
		badTE("Transfer-Encoding: xchunked"),
		{
			// RFC 9112 §5.1: no whitespace between a field name and the
			// colon; a server MUST reject such a request with 400.
			name: "a space before the colon of Transfer-Encoding",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Content-Length: "+strconv.Itoa(len("0\r\n\r\n"+smuggled)), "Transfer-Encoding : chunked") +
				"0\r\n\r\n" + smuggled,
			status: rejected, closed: true, saw: noneSaw,
		},
		{
			name: "a Content-Length with a sign",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json",
				"Content-Length: +2") + "{}" + smuggled,
			status: rejected, closed: true, saw: noneSaw,
		},
		{
			// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is read as a
			// faulty framing: the connection closes after the answer.
			name: "Transfer-Encoding in an HTTP/1.0 request",
			request: req("POST /api/contact HTTP/1.0", hostLine, "Content-Type: application/json",
				"Transfer-Encoding: chunked") + "2\r\n{}\r\n0\r\n\r\n" + smuggled,
			status: []int{400, 411, 501}, closeAlways: true, saw: noneSaw,
		},
		{
			// RFC 9112 §3.2: more than one Host is a 400.
			name:    "two Host fields",
			request: req("GET /api/events HTTP/1.1", hostLine, "Host: other.test"),
			status:  rejected, closed: true, saw: noneSaw,
		},
		{
			name:    "a NUL in a header value",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Bad: a\x00b"),
			status:  rejected, closed: true, saw: noneSaw,
		},
		{
			name:    "a CR in a header value",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Bad: a\rb"),
			status:  rejected, closed: true, saw: noneSaw,
		},
		{
			name:    "a CR in a Content-Length",
			request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Length: 2\r5") + "{}" + smuggled,
			status:  rejected, closed: true, saw: noneSaw,
		},
		// X-Request-ID.
		{
			name:    "a valid X-Request-ID is kept",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Request-ID: corr-42.abc"),
			status:  []int{200},
			client:  oneRequestID("corr-42.abc"),
			saw: func(t *testing.T, f *fixture, _ *answer) {
				if got := f.only(t, "booking").Header.Values("X-Request-Id"); !slices.Equal(got, []string{"corr-42.abc"}) {
					t.Errorf("upstream saw X-Request-ID %q", got)
				}
			},
		},
		{
			name:    "an invalid X-Request-ID is replaced",
			request: req("GET /api/events HTTP/1.1", hostLine, `X-Request-ID: bad "id" with spaces`),
			status:  []int{200},
			saw:     replacedRequestID(`bad "id" with spaces`),
		},
		{
			name:    "an overlong X-Request-ID is replaced",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Request-ID: "+strings.Repeat("a", 200)),
			status:  []int{200},
			saw:     replacedRequestID(strings.Repeat("a", 200)),
		},
		{
			name:    "two X-Request-IDs reach the upstream as one",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Request-ID: first-id", "X-Request-ID: second-id"),
			status:  []int{200},
			saw:     replacedRequestID(""),
		},
		// X-Forwarded-For.
		{
			name:    "an untrusted peer's X-Forwarded-For is not believed",
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Forwarded-For: 6.6.6.6", "X-Real-IP: 6.6.6.6"),
			status:  []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				s := f.only(t, "booking")
				// Appended only from trusted peers: the peer alone.
				if chain := forwardedFor(s.Header); !slices.Equal(chain, []string{"127.0.0.1"}) {
					t.Errorf("upstream X-Forwarded-For %q, want the peer alone", chain)
				}
				if got := s.Header.Values("X-Real-Ip"); !slices.Equal(got, []string{"127.0.0.1"}) {
					t.Errorf("upstream X-Real-IP %q, want the peer", got)
				}
			},
		},
		{
			name: "a trusted peer's X-Forwarded-For is kept and extended",
			env:  map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"},
			request: req("GET /api/events HTTP/1.1", hostLine, "X-Forwarded-For: 198.51.100.1",
				"X-Forwarded-For: 203.0.113.7", "X-Real-IP: 6.6.6.6"),
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				s := f.only(t, "booking")
				if chain := forwardedFor(s.Header); !slices.Equal(chain, []string{"198.51.100.1", "203.0.113.7", "127.0.0.1"}) {
					t.Errorf("upstream X-Forwarded-For %q", chain)
				}
				if got := s.Header.Values("X-Real-Ip"); !slices.Equal(got, []string{"203.0.113.7"}) {
					t.Errorf("upstream X-Real-IP %q, want the client named by X-Forwarded-For", got)
				}
			},
		},
		{
			name:     "each request on a trusted peer's connection names its own client",
			env:      map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"},
			exchange: sameConnection([]string{"X-Forwarded-For: 203.0.113.7", "X-Forwarded-For: 203.0.113.8"}),
			status:   []int{200},
			saw:      realIPs(map[string]string{"/api/events?n=0": "203.0.113.7", "/api/events?n=1": "203.0.113.8"}),
		},
		{
			name:     "each request on an untrusted peer's connection is the peer's",
			exchange: sameConnection([]string{"", "X-Forwarded-For: 203.0.113.8"}),
			status:   []int{200},
			saw:      realIPs(map[string]string{"/api/events?n=0": "127.0.0.1", "/api/events?n=1": "127.0.0.1"}),
		},
		{
			name:    "the upstream gets its own host as Host, the client's as X-Forwarded-Host",
			request: req("GET /api/events?q=1 HTTP/1.1", "Host: client.example"),
			status:  []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				s := f.only(t, "booking")
				if want := strings.TrimPrefix(f.up["booking"].srv.URL, "http://"); s.Host != want {
					t.Errorf("upstream Host %q, want %q", s.Host, want)
				}
				if got := s.Header.Values("X-Forwarded-Host"); !slices.Equal(got, []string{"client.example"}) {
					t.Errorf("upstream X-Forwarded-Host %q, want [client.example]", got)
				}
				if s.URI != "/api/events?q=1" {
					t.Errorf("upstream request URI %q", s.URI)
				}
			},
		},
		{
			name: "a client's own forwarding fields are replaced, in any case",
			request: req("GET /api/events HTTP/1.1", hostLine, "x-real-ip: 6.6.6.6", "X-FORWARDED-HOST: evil.example",
				"X-Forwarded-Proto: https", "x-forwarded-for: 6.6.6.6"),
			status: []int{200},
			saw: func(t *testing.T, f *fixture, _ *answer) {
				s := f.only(t, "booking")
				for name, want := range map[string][]string{
					"X-Real-Ip":         {"127.0.0.1"},
					"X-Forwarded-Host":  {strings.TrimPrefix(hostLine, "Host: ")},
					"X-Forwarded-Proto": {"http"},
				} {
					if got := s.Header.Values(name); !slices.Equal(got, want) {
						t.Errorf("upstream %s %q, want %q", name, got, want)
					}
				}
			},
		},
		// Upstream failures.
		{
			name: "an upstream that does not answer in time: JSON 504",
			env:  map[string]string{"UPSTREAM_HEADER_TIMEOUT": "200ms"},
			upstream: func(f *fixture) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-r.Context().Done():
					case <-f.done:
					}
				}
			},
			request: req("GET /api/admin/audit-logs HTTP/1.1", hostLine),
			status:  []int{504}, jsonError: "Gateway timeout",
		},
		{
			name: "a refused upstream: JSON 503",
			dead: "booking", request: req("GET /api/events HTTP/1.1", hostLine),
			status: []int{503}, jsonError: "Service unavailable",
			client: func(t *testing.T, a *answer) {
				if a.resp.Header.Get("Retry-After") != "1" {
					t.Errorf("no Retry-After: 1\n%s", a.head)
				}
			},
		},
		{
			name: "an upstream that hangs up: JSON 502",
			upstream: func(*fixture) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
						conn.Close()
					}
				}
			},
			request: req("GET /api/events HTTP/1.1", hostLine),
			status:  []int{502}, jsonError: "Bad gateway",
		},
		// Rate limits.
		{
			name: "a 429 arrives with its headers",
			env:  map[string]string{"RATELIMIT_ENABLED": "true", "REDIS_URL": "", "RATELIMIT_PUBLIC": "1/minute"},
			exchange: func(t *testing.T, f *fixture) *answer {
				c := f.dial(t)
				defer c.close()
				c.send(t, req("GET /api/events HTTP/1.1", hostLine))
				if a := c.read(t, "GET"); a.status() != 200 {
					t.Fatalf("first request %d\n%s%s", a.status(), a.head, a.body)
				}
				c.send(t, req("GET /api/events HTTP/1.1", hostLine))
				return c.read(t, "GET")
			},
			status: []int{429}, jsonError: "Rate limit exceeded",
			client: func(t *testing.T, a *answer) {
				// The seed's spelling, not canonicalised.
				for _, h := range []string{"X-RateLimit-Limit: 1\r\n", "X-RateLimit-Remaining: 0\r\n", "X-RateLimit-Reset: ",
					"RateLimit-Policy: ", "RateLimit: ", "Retry-After: "} {
					if !strings.Contains(a.head, "\r\n"+h) {
						t.Errorf("no %q in\n%s", h, a.head)
					}
				}
				var e web.Error
				if json.Unmarshal(a.body, &e) == nil && e.Detail != "1 per 1 minute" {
					t.Errorf("detail %q", e.Detail)
				}
			},
			saw: func(t *testing.T, f *fixture, _ *answer) { f.only(t, "booking") },
		},
		{
			name: "an upstream's own rate-limit and nosniff fields give way to the gateway's",
			env:  map[string]string{"RATELIMIT_ENABLED": "true", "REDIS_URL": ""},
			upstream: func(*fixture) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header()["x-ratelimit-limit"] = []string{"999"}
					w.Header().Set("RateLimit", "bogus")
					w.Header().Set("X-Content-Type-Options", "sniff")
					web.WriteJSON(w, http.StatusOK, map[string]string{"path": r.URL.Path})
				}
			},
			request: req("GET /api/events HTTP/1.1", hostLine),
			status:  []int{200},
			client: func(t *testing.T, a *answer) {
				for name, want := range map[string]string{"X-RateLimit-Limit": "10", "X-Content-Type-Options": "nosniff"} {
					if got := a.resp.Header.Values(name); !slices.Equal(got, []string{want}) {
						t.Errorf("client got %s %q, want [%s]\n%s", name, got, want, a.head)
					}
				}
				if got := a.resp.Header.Values("RateLimit"); len(got) != 1 || got[0] == "bogus" {
					t.Errorf("client got RateLimit %q, want the gateway's alone\n%s", got, a.head)
				}
			},
		},
		{
			name: "a slow answer's X-RateLimit-Reset counts from the decision",
			env:  map[string]string{"RATELIMIT_ENABLED": "true", "REDIS_URL": ""},
			upstream: func(*fixture) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					time.Sleep(2500 * time.Millisecond)
					web.WriteJSON(w, http.StatusOK, map[string]string{"path": r.URL.Path})
				}
			},
			exchange: func(t *testing.T, f *fixture) *answer {
				c := f.dial(t)
				defer c.close()
				sent := time.Now()
				c.send(t, req("GET /api/events HTTP/1.1", hostLine))
				a := c.read(t, "GET")
				// The public tier's first request: its minute window
				// (10 a minute) resets 6 s after the decision, in whole
				// seconds rounded up; counted from the answer it would
				// be 2.5 s later.
				reset, err := strconv.ParseInt(headerValue(a.head, "X-RateLimit-Reset"), 10, 64)
				if latest := sent.Add(7*time.Second-1).Unix() + 1; err != nil || reset > latest {
					t.Errorf("X-RateLimit-Reset %s, want at most %d (sent at %d, reset 6 s after)\n%s",
						headerValue(a.head, "X-RateLimit-Reset"), latest, sent.Unix(), a.head)
				}
				return a
			},
			status: []int{200},
		},
	}
}

// refusedBeforeBody sends head alone, reads the answer (which must not
// wait for the body), then sends the declared body made of hidden
// requests, and waits for the gateway to read or drop it.
func refusedBeforeBody(head string) func(t *testing.T, f *fixture) *answer {
	return func(t *testing.T, f *fixture) *answer {
		c := f.dial(t)
		defer c.close()
		c.send(t, head)
		a := c.read(t, "PUT")
		n, _ := strconv.Atoi(headerValue(head, "Content-Length"))
		body := strings.Repeat(smuggled, n/len(smuggled)+1)[:n]
		if _, err := io.WriteString(c.c, body); err == nil {
			c.closedByServer(t) // an answer to a hidden request fails the row by what the upstream saw
		}
		return a
	}
}

// headerValue is the value of the named field line of a head.
func headerValue(head, name string) string {
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// badChunk is a row whose chunked body has an invalid chunk-size line
// (RFC 9112 §7.1: chunk-size = 1*HEXDIG): 400, and the upstream never
// gets a complete body.
func badChunk(name, size string) correctnessCase {
	return correctnessCase{
		name: name,
		request: req("POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json", "Transfer-Encoding: chunked") +
			size + "\r\n{}\r\n0\r\n\r\n" + smuggled,
		status: []int{400}, closed: true, saw: noCompleteBody,
	}
}

// badTE is a row with a Transfer-Encoding other than a single chunked:
// RFC 9112 §6.1 asks 400 when chunked is not the last coding and (SHOULD)
// 501 for a coding the server does not implement; both refuse.
func badTE(te ...string) correctnessCase {
	head := append([]string{"POST /api/contact HTTP/1.1", hostLine, "Content-Type: application/json"}, te...)
	return correctnessCase{
		name:    strings.Join(te, " + "),
		request: req(head...) + "2\r\n{}\r\n0\r\n\r\n" + smuggled,
		status:  []int{400, 501}, closed: true, saw: noneSaw,
	}
}

// csvUpstream streams csvRows rows: the first csvFirst, then (once the
// client has read them, f.gate) the rest, flushing as it goes. It notes
// the SHA-256 of what it wrote.
func csvUpstream(f *fixture) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		rc := http.NewResponseController(w)
		sum := sha256.New()
		out := io.MultiWriter(w, sum)
		bw := bufio.NewWriterSize(out, 64<<10)
		_, _ = io.WriteString(bw, "id,name,email\n")
		for i := 1; i <= csvRows; i++ {
			_, _ = fmt.Fprintf(bw, "%d,name %d,user%d@example.org\n", i, i, i)
			if i == csvFirst || i%20000 == 0 {
				if err := bw.Flush(); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
			if i == csvFirst && !f.waitGate(r) {
				return
			}
		}
		_ = bw.Flush()
		f.note("csv-sha256", hex.EncodeToString(sum.Sum(nil)))
	}
}

// csvExchange reads the export: the first rows arrive while the upstream
// waits for them to be read (a buffering proxy would wait forever: the
// connection's deadline turns that into a failure), then the rest.
func csvExchange(t *testing.T, f *fixture) *answer {
	c := f.dial(t)
	defer c.close()
	c.send(t, req("GET "+csvPath+" HTTP/1.1", hostLine))
	a := c.head(t, "GET")
	if a.status() != 200 {
		body, _ := io.ReadAll(a.resp.Body)
		a.body = body
		return a
	}
	if a.resp.ContentLength >= 0 {
		t.Errorf("the export has a Content-Length (%d): it was buffered", a.resp.ContentLength)
	}
	sum := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(a.resp.Body, sum), 64<<10)
	lines := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if !errors.Is(err, io.EOF) || line != "" {
				t.Fatalf("after %d lines: %v (%q)", lines, err, line)
			}
			break
		}
		lines++
		if lines == csvFirst+1 {
			if want := fmt.Sprintf("%d,name %d,user%d@example.org\n", csvFirst, csvFirst, csvFirst); line != want {
				t.Fatalf("line %d = %q, want %q", lines, line, want)
			}
			f.openGate() // the upstream writes the rest only now
		}
	}
	if lines != csvRows+1 {
		t.Errorf("%d lines, want %d", lines, csvRows+1)
	}
	a.body = []byte(hex.EncodeToString(sum.Sum(nil)))
	c.settle(a)
	t.Cleanup(func() {
		if got, want := string(a.body), f.noted("csv-sha256"); got != want {
			t.Errorf("the export's SHA-256 %s, the upstream wrote %s", got, want)
		}
	})
	return a
}

// sizedLen is the length of sizedUpstream's answer, and sizedFirst what
// it writes before it waits for the client to have read it: both well
// over what the fasthttp path reads whole (64 KiB).
const (
	sizedLen   = 4 << 20
	sizedFirst = 256 << 10
)

// sizedUpstream answers with sizedLen bytes under a Content-Length: the
// first sizedFirst, then, once the client has read them, the rest.
func sizedUpstream(f *fixture) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(sizedLen))
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4<<10)
		for sent := 0; sent < sizedLen; sent += len(chunk) {
			if sent == sizedFirst {
				if err := http.NewResponseController(w).Flush(); err != nil || !f.waitGate(r) {
					return
				}
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// sizedExchange reads sizedUpstream's answer: half its first part while
// the upstream waits (a proxy holding the body whole would pass on
// nothing; a proxy's write buffer may hold back the last few KiB until
// more comes), then the rest, and checks its length.
func sizedExchange(t *testing.T, f *fixture) *answer {
	c := f.dial(t)
	defer c.close()
	c.send(t, req("GET /api/events HTTP/1.1", hostLine))
	a := c.head(t, "GET")
	if a.status() != 200 {
		body, _ := io.ReadAll(a.resp.Body)
		a.body = body
		return a
	}
	if a.resp.ContentLength != sizedLen {
		t.Errorf("Content-Length %d, want %d", a.resp.ContentLength, sizedLen)
	}
	const early = sizedFirst / 2
	if _, err := io.CopyN(io.Discard, a.resp.Body, early); err != nil {
		t.Fatalf("the first %d bytes: %v", early, err)
	}
	f.openGate() // the upstream writes the rest only now
	n, err := io.Copy(io.Discard, a.resp.Body)
	if err != nil || early+n != sizedLen {
		t.Errorf("%d bytes (%v), want %d", early+n, err, sizedLen)
	}
	c.settle(a)
	return a
}

// cutExchange reads an answer whose upstream hung up before the end of
// its body: a JSON 502, a 200 whose body ends before its Content-Length
// (the client can tell it is not whole), or the connection closed with
// no answer (nil).
func cutExchange(t *testing.T, f *fixture) *answer {
	c := f.dial(t)
	defer c.close()
	c.send(t, req("GET /api/events HTTP/1.1", hostLine))
	if _, err := c.r.Peek(1); errors.Is(err, io.EOF) {
		t.Log("closed with no answer")
		return nil
	}
	a := c.head(t, "GET")
	body, err := io.ReadAll(a.resp.Body)
	a.body = body
	switch a.status() {
	case http.StatusBadGateway:
		if err != nil {
			t.Errorf("the 502's body: %v", err)
		}
		checkJSONError(t, a, "Bad gateway")
	case http.StatusOK:
		if err == nil {
			t.Errorf("a 200 with the whole of a cut body: %q", body)
		}
	}
	return a
}

// rawUpstream answers a request (the first of a row: without n or with
// n=0) with raw bytes and then holds its connection open until the row
// ends, reading nothing more from it; other requests get a plain answer.
func rawUpstream(raw string) func(f *fixture) http.HandlerFunc {
	return func(f *fixture) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if n := r.URL.Query().Get("n"); n != "" && n != "0" {
				web.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
				return
			}
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = rw.WriteString(raw)
			_ = rw.Flush()
			<-f.done
		}
	}
}

// upgradingUpstream switches protocols whenever asked and echoes what it
// reads: if the gateway let an upgrade through, the client would see 101.
func upgradingUpstream(*fixture) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			web.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + r.Header.Get("Upgrade") + "\r\n\r\n")
		_ = rw.Flush()
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(conn, rw)
	}
}

func refusedUpgrade(t *testing.T, a *answer) {
	t.Helper()
	if a.status() < 400 {
		t.Fatalf("status %d, want a refusal\n%s", a.status(), a.head)
	}
	checkJSONError(t, a, "")
}

func noUpgradeSeen(t *testing.T, f *fixture, _ *answer) {
	t.Helper()
	for _, s := range f.allSeen() {
		if s.Header.Get("Upgrade") != "" || slices.Contains(tokens(s.Header["Connection"]), "upgrade") {
			t.Errorf("the %s upstream was asked to upgrade:\n%s", s.Owner, s.RawHead)
		}
	}
}

// noneSaw: the upstreams saw no request at all.
func noneSaw(t *testing.T, f *fixture, _ *answer) {
	t.Helper()
	for _, s := range f.allSeen() {
		t.Errorf("the %s upstream saw %s %s:\n%s", s.Owner, s.Method, s.URI, s.RawHead)
	}
}

// noCompleteBody: an upstream may have seen the start of the request
// (a streaming proxy sends the head before the body fails), never a body
// that ended well.
func noCompleteBody(t *testing.T, f *fixture, _ *answer) {
	t.Helper()
	for _, s := range f.allSeen() {
		if s.BodyErr == nil {
			t.Errorf("the %s upstream got a whole body of %d bytes: %q", s.Owner, len(s.Body), s.Body)
		}
	}
}

// emptyBodyIfForwarded: a CL+TE request, if forwarded, went framed by its
// chunks (an empty body) and never with both headers.
func emptyBodyIfForwarded(t *testing.T, f *fixture, _ *answer) {
	t.Helper()
	for _, s := range f.allSeen() {
		if len(s.Body) != 0 {
			t.Errorf("upstream body %q: Content-Length won over Transfer-Encoding", s.Body)
		}
		checkFraming(t, s.RawHead)
	}
}

func oneRequestID(want string) func(t *testing.T, a *answer) {
	return func(t *testing.T, a *answer) {
		t.Helper()
		if got := a.resp.Header.Values("X-Request-Id"); len(got) != 1 || want != "" && got[0] != want {
			t.Errorf("client got X-Request-ID %q, want exactly [%s]", got, want)
		}
	}
}

// replacedRequestID: the upstream saw one valid id, not bad, and the
// client got that same id, once.
func replacedRequestID(bad string) func(t *testing.T, f *fixture, a *answer) {
	return func(t *testing.T, f *fixture, a *answer) {
		t.Helper()
		got := f.only(t, "booking").Header.Values("X-Request-Id")
		if len(got) != 1 || !web.ValidRequestID(got[0]) || got[0] == bad {
			t.Fatalf("upstream saw X-Request-ID %q", got)
		}
		oneRequestID(got[0])(t, a)
	}
}

func checkJSONError(t *testing.T, a *answer, want string) {
	t.Helper()
	if ct := a.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json; body %.200s", ct, a.body)
	}
	var e map[string]any
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Errorf("body %.200q is not JSON: %v", a.body, err)
		return
	}
	msg, _ := e["error"].(string)
	detail, _ := e["detail"].(string)
	if msg == "" || want != "" && msg != want || detail == "" {
		t.Errorf("body %s, want {\"error\":%q,\"detail\":...}", a.body, want)
	}
	for k := range e {
		if k != "error" && k != "detail" && k != "fields" {
			t.Errorf("body has %q, not in DESIGN §2's error shape: %s", k, a.body)
		}
	}
}

// checkFraming: a forwarded head declares its body once, by
// Content-Length or by chunked, never both.
func checkFraming(t *testing.T, head string) {
	t.Helper()
	h := strings.ToLower(head)
	cl, te := strings.Count(h, "\r\ncontent-length:"), strings.Count(h, "\r\ntransfer-encoding:")
	if cl+te > 1 {
		t.Errorf("upstream head frames the body %d times:\n%s", cl+te, head)
	}
}

func checkNoFold(t *testing.T, head string) {
	t.Helper()
	if strings.Contains(head, "\n ") || strings.Contains(head, "\n\t") {
		t.Errorf("upstream head has a folded line:\n%q", head)
	}
}

func checkNoBareLF(t *testing.T, head string) {
	t.Helper()
	if strings.Count(head, "\n") != strings.Count(head, "\r\n") {
		t.Errorf("upstream head has a bare LF:\n%q", head)
	}
}

// sameConnection sends GET /api/events?n=i with field line fields[i] (if
// any) for each i, one after the other on one connection.
func sameConnection(fields []string) func(t *testing.T, f *fixture) *answer {
	return func(t *testing.T, f *fixture) *answer {
		c := f.dial(t)
		defer c.close()
		var last *answer
		for i, field := range fields {
			lines := []string{hostLine}
			if field != "" {
				lines = append(lines, field)
			}
			c.send(t, req(append([]string{"GET /api/events?n=" + strconv.Itoa(i) + " HTTP/1.1"}, lines...)...))
			if last = c.read(t, "GET"); last.status() != 200 {
				t.Errorf("request %d: %d %s", i, last.status(), last.body)
			}
		}
		return last
	}
}

// realIPs wants the upstream to have seen X-Real-IP want[uri] on the
// request for each uri.
func realIPs(want map[string]string) func(t *testing.T, f *fixture, _ *answer) {
	return func(t *testing.T, f *fixture, _ *answer) {
		seen := f.allSeen()
		if len(seen) != len(want) {
			t.Fatalf("the upstreams saw %d requests, want %d", len(seen), len(want))
		}
		for _, s := range seen {
			if got := s.Header.Values("X-Real-Ip"); !slices.Equal(got, []string{want[s.URI]}) {
				t.Errorf("%s: upstream X-Real-IP %q, want %q", s.URI, got, want[s.URI])
			}
		}
	}
}

// forwardedFor is the X-Forwarded-For chain, over every field line.
func forwardedFor(h http.Header) []string {
	var chain []string
	for _, v := range h.Values("X-Forwarded-For") {
		for _, p := range strings.Split(v, ",") {
			chain = append(chain, strings.TrimSpace(p))
		}
	}
	return chain
}

// tokens lists the lower-cased comma-separated tokens of field values.
func tokens(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// req joins a request line and field lines into a head ending in the
// empty line.
func req(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// chunked encodes parts as chunks and the last chunk.
func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

func methodOf(request string) string {
	m, _, _ := strings.Cut(request, " ")
	return m
}

// fixture is one row's gateway and upstreams.
type fixture struct {
	addr     string
	internal string
	up       map[string]*upstream
	logs     *testkit.SyncBuffer
	svc      *testkit.Task // the gateway's run
	stopped  bool
	gate     chan struct{} // closed by the client when a row's upstream may go on
	gateOnce sync.Once
	done     chan struct{} // closed when the row ends: blocked upstreams return
	mu       sync.Mutex
	notes    map[string]string
}

func startFixture(t *testing.T, dataPath string, tc *correctnessCase) *fixture {
	t.Helper()
	f := &fixture{up: map[string]*upstream{}, logs: &testkit.SyncBuffer{},
		gate: make(chan struct{}), done: make(chan struct{}), notes: map[string]string{}}
	t.Cleanup(func() { f.stop(t) })
	env := map[string]string{
		"GATEWAY_DATA_PATH": dataPath, "RATELIMIT_ENABLED": "false", "SHUTDOWN_GRACE": "5s", "LOG_LEVEL": "warn",
		"MAX_BODY_BYTES": strconv.Itoa(bodyLimit), "MAX_UPLOAD_BYTES": strconv.Itoa(uploadLimit),
	}
	for _, owner := range []string{"booking", "admin", "exporter"} {
		var h http.HandlerFunc
		if tc.upstream != nil {
			h = tc.upstream(f)
		}
		url := ""
		if owner == tc.dead {
			url = "http://" + testkit.FreeAddr(t) // nothing listens there
		} else {
			u := newUpstream(owner, h)
			f.up[owner] = u
			url = u.srv.URL
		}
		env[strings.ToUpper(owner)+"_URL"] = url
	}
	// Two picks may return the same free port (nothing holds it between
	// them): pick again until the gateway's two ports and a dead
	// upstream's differ.
	for f.addr == "" || f.addr == f.internal || slices.Contains([]string{f.addr, f.internal}, strings.TrimPrefix(env[strings.ToUpper(tc.dead)+"_URL"], "http://")) {
		f.addr, f.internal = testkit.FreeAddr(t), testkit.FreeAddr(t)
	}
	env["GATEWAY_ADDR"], env["GATEWAY_INTERNAL_ADDR"] = f.addr, f.internal
	for k, v := range tc.env {
		env[k] = v
	}
	f.svc = testkit.Go(t, "the gateway", func(ctx context.Context) error { return run(ctx, libconfig.Map(env), f.logs) })
	testkit.WaitHTTP(t, "http://"+f.internal+"/readyz", http.StatusOK, testkit.While(f.svc.Alive))
	return f
}

// stop ends the row: the gateway drains and returns, then the upstreams
// finish their requests and close. It may be called again.
func (f *fixture) stop(t *testing.T) {
	t.Helper()
	if f.stopped {
		return
	}
	f.stopped = true
	f.openGate()
	close(f.done)
	if f.svc != nil { // nil: the row failed before the gateway started
		if err := f.svc.Stop(); err != nil {
			t.Errorf("stop the gateway: %v\n%s", err, f.logs.String())
		}
	}
	for _, u := range f.up {
		u.srv.Close()
	}
}

func (f *fixture) openGate() { f.gateOnce.Do(func() { close(f.gate) }) }

// waitGate waits in an upstream handler until the client opens the
// gate; false when the request or the row ended first.
func (f *fixture) waitGate(r *http.Request) bool {
	select {
	case <-f.gate:
		return true
	case <-r.Context().Done():
		return false
	case <-f.done:
		return false
	}
}

func (f *fixture) note(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes[k] = v
}

func (f *fixture) noted(k string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notes[k]
}

// allSeen is every request the upstreams saw.
func (f *fixture) allSeen() []seenRequest {
	var all []seenRequest
	for _, owner := range []string{"booking", "admin", "exporter"} {
		if u := f.up[owner]; u != nil {
			all = append(all, u.requests()...)
		}
	}
	return all
}

// only is the one request the owner saw; no other upstream saw any.
func (f *fixture) only(t *testing.T, owner string) seenRequest {
	t.Helper()
	all := f.allSeen()
	if len(all) != 1 || all[0].Owner != owner {
		for _, s := range all {
			t.Logf("the %s upstream saw %s %s", s.Owner, s.Method, s.URI)
		}
		t.Fatalf("the upstreams saw %d requests, want one to %s", len(all), owner)
	}
	return all[0]
}

func (f *fixture) dial(t *testing.T) *clientConn {
	t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	// Not a threshold: a proxy that buffers or hangs fails the row
	// instead of the whole run.
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return &clientConn{c: c, r: bufio.NewReader(c)}
}

// seenRequest is what an upstream received.
type seenRequest struct {
	Owner, Method, URI string
	Host               string // the request's Host field
	Header, Trailer    http.Header
	Body               []byte
	BodyErr            error
	// RawHead is the request line and field lines as they arrived (the
	// head of the connection's next request).
	RawHead string
}

// upstream is a recording server: it keeps every request and every byte
// of every connection.
type upstream struct {
	owner   string
	srv     *httptest.Server
	handler http.HandlerFunc
	mu      sync.Mutex
	seen    []seenRequest
	conns   []*tapConn
}

func newUpstream(owner string, h http.HandlerFunc) *upstream {
	u := &upstream{owner: owner, handler: h}
	u.srv = httptest.NewUnstartedServer(u)
	u.srv.Listener = &tapListener{Listener: u.srv.Listener, u: u}
	u.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, tapKey{}, c)
	}
	u.srv.Start()
	return u
}

type tapKey struct{}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	s := seenRequest{Owner: u.owner, Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone(),
		Trailer: r.Trailer.Clone(), Body: body, BodyErr: err}
	if tc, ok := r.Context().Value(tapKey{}).(*tapConn); ok {
		s.RawHead = tc.nextHead()
	}
	u.mu.Lock()
	u.seen = append(u.seen, s)
	u.mu.Unlock()
	if err != nil {
		return
	}
	if u.handler != nil {
		u.handler(w, r)
		return
	}
	w.Header().Set("X-Upstream", u.owner)
	w.Header().Set("X-Seen-Uri", r.RequestURI)
	w.Header().Set(web.HeaderRequestID, r.Header.Get(web.HeaderRequestID)) // services echo it
	web.WriteJSON(w, http.StatusOK, map[string]any{"upstream": u.owner, "bytes": len(body)})
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// written is everything the upstream wrote, on every connection.
func (u *upstream) written() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var b strings.Builder
	for _, c := range u.conns {
		b.WriteString(c.out.String())
	}
	return b.String()
}

type tapListener struct {
	net.Listener
	u *upstream
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &tapConn{Conn: c}
	l.u.mu.Lock()
	l.u.conns = append(l.u.conns, tc)
	l.u.mu.Unlock()
	return tc, nil
}

// tapConn records the bytes read and written on a connection.
type tapConn struct {
	net.Conn
	in, out testkit.SyncBuffer
	mu      sync.Mutex
	heads   int // heads already handed out by nextHead
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	_, _ = c.in.Write(p[:n])
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	_, _ = c.out.Write(p)
	return c.Conn.Write(p)
}

// nextHead returns the next request head read on the connection: the
// bytes up to the n-th empty line, n counting the requests served on it
// (bodies of earlier requests are skipped by looking past their heads
// only, enough for the requests of this table).
func (c *tapConn) nextHead() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.in.String()
	for i := 0; ; i++ {
		end := strings.Index(in, "\r\n\r\n")
		if end < 0 {
			return in
		}
		if i == c.heads {
			c.heads++
			return in[:end+4]
		}
		// Skip this head and its body: the next head starts with a
		// method after the body, found by its request line.
		rest := in[end+4:]
		next := -1
		for _, m := range []string{"GET ", "POST ", "PUT ", "PATCH ", "DELETE ", "HEAD ", "OPTIONS "} {
			if k := strings.Index(rest, m); k >= 0 && (next < 0 || k < next) {
				next = k
			}
		}
		if next < 0 {
			return ""
		}
		in = rest[next:]
	}
}

// clientConn is the client's side of one connection to the gateway.
type clientConn struct {
	c net.Conn
	r *bufio.Reader
}

// answer is one response as the client read it.
type answer struct {
	resp *http.Response
	head string // status line and field lines, as received
	body []byte
	rr   *bufio.Reader
}

func (a *answer) status() int { return a.resp.StatusCode }

func (c *clientConn) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// head reads a response's head; its body is left to read.
func (c *clientConn) head(t *testing.T, method string) *answer {
	t.Helper()
	var head strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			t.Fatalf("reading the answer: %v after %q", err, head.String())
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	rr := bufio.NewReader(io.MultiReader(strings.NewReader(head.String()), c.r))
	resp, err := http.ReadResponse(rr, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("parsing the answer: %v\n%s", err, head.String())
	}
	return &answer{resp: resp, head: head.String(), rr: rr}
}

// read reads a whole response.
func (c *clientConn) read(t *testing.T, method string) *answer {
	t.Helper()
	a := c.head(t, method)
	body, err := io.ReadAll(a.resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v (after %d bytes)\n%s", err, len(body), a.head)
	}
	a.body = body
	c.settle(a)
	return a
}

// settle hands the bytes the answer's reader read ahead back to the
// connection.
func (c *clientConn) settle(a *answer) {
	rest, _ := a.rr.Peek(a.rr.Buffered())
	c.r = bufio.NewReader(io.MultiReader(bytes.NewReader(bytes.Clone(rest)), c.r))
}

// closedByServer reports whether the gateway closed the connection after
// its answer, without the client sending more.
func (c *clientConn) closedByServer(t *testing.T) bool {
	t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := c.r.ReadByte()
	switch {
	case err == nil:
		rest, _ := c.r.Peek(c.r.Buffered())
		t.Errorf("more bytes after the answer: %q", append([]byte{b}, rest...))
		return false
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return true
	case errors.Is(err, os.ErrDeadlineExceeded):
		return false
	default:
		t.Logf("after the answer: %v", err)
		return true
	}
}

func (c *clientConn) close() { _ = c.c.Close() }

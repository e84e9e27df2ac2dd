package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/testkit"
	"github.com/acube/platform/tools/internal/chaos"
	"github.com/acube/platform/tools/internal/stack"
)

// The attacks of issue 13 on the public booking forms (findings 5 and 6),
// driven through the gateway as an outsider would: learning whether an
// address is registered for an event, and probing someone's
// Idempotency-Key. Each attack succeeded before the fix.

// person is a client on its own loopback address, which the gateway
// (trusting no proxy) takes as its address: two persons are two clients
// to every service, each with its own rate-limit budget.
type person struct {
	t    *testing.T
	http *http.Client
	base string
}

func newPerson(t *testing.T, base, ip string) *person {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	// Every answer an attacker gets is validated against the OpenAPI
	// document too: a refusal must be a documented error.
	v := apitest.New(t)
	return &person{t: t, http: &http.Client{Transport: v.Transport(tr), Timeout: 30 * time.Second}, base: base}
}

// reply is one answer, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// members decodes the answer's top-level JSON members.
func (r reply) members(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

// send makes a request with a JSON body and headers in name, value pairs.
func (p *person) send(method, path, body string, headers ...string) reply {
	p.t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// adminToken bootstraps the first superadmin and signs in through the
// gateway in two steps (password, then TOTP code).
func adminToken(t *testing.T, sys *system, p *person) string {
	t.Helper()
	const email, password = "root@example.com", "correct horse battery staple"
	secret := sys.bootstrapAdmin(t, email, password)
	step := p.send("POST", "/api/admin/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
	mfa, _ := step.members(t)["mfa_token"].(string)
	tokens := p.send("POST", "/api/admin/auth/mfa", `{"mfa_token":"`+mfa+`","code":"`+totpCode(t, secret, time.Now())+`"}`)
	access, _ := tokens.members(t)["access_token"].(string)
	if access == "" {
		t.Fatalf("sign in: %d %s / %d %s", step.status, step.body, tokens.status, tokens.body)
	}
	// Booking refuses admin tokens (503, "retry shortly") until its feed
	// of revoked sessions runs, which may be just after it reports ready.
	testkit.EventuallyErr(t, "booking to take admin tokens", func() error {
		if r := p.send("GET", "/api/sessions?limit=1", "", "Authorization", "Bearer "+access); r.status == http.StatusServiceUnavailable {
			return fmt.Errorf("503 %s", r.body)
		}
		return nil
	}, testkit.Interval(100*time.Millisecond))
	return access
}

// headerDiff lists the headers of a and b that differ other than those
// that differ between any two answers: time, request id, the length of
// an echoed address, and the client's rate-limit budget.
func headerDiff(a, b http.Header) []string {
	vary := []string{"Date", "X-Request-Id", "Content-Length", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Ratelimit"}
	var diff []string
	names := slices.Sorted(maps.Keys(a))
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		_, inA := a[n]
		_, inB := b[n]
		if inA != inB || (!slices.Contains(vary, n) && strings.Join(a.Values(n), ",") != strings.Join(b.Values(n), ",")) {
			diff = append(diff, n)
		}
	}
	return diff
}

func TestIntegrationAttackBookingPrivacy(t *testing.T) {
	sys := start(t, stack.Services()...)
	member := newPerson(t, sys.gateway, "127.0.0.2")
	attacker := newPerson(t, sys.gateway, "127.0.0.3")
	accomplice := newPerson(t, sys.gateway, "127.0.0.4")

	t.Run("registration enumeration", func(t *testing.T) {
		admin := newPerson(t, sys.gateway, "127.0.0.5")
		token := adminToken(t, sys, admin)
		starts := time.Now().UTC().AddDate(0, 0, 10).Truncate(time.Hour)
		created := admin.send("POST", "/api/events", `{"title":"Bereavement circle","location":"Room 1","starts_at":"`+
			starts.Format(time.RFC3339)+`","ends_at":"`+starts.Add(2*time.Hour).Format(time.RFC3339)+`","capacity":8}`,
			"Authorization", "Bearer "+token)
		event, _ := created.members(t)["id"].(string)
		if created.status != http.StatusCreated || event == "" {
			t.Fatalf("create event: %d %s", created.status, created.body)
		}
		register := "/api/events/" + event + "/register"
		if r := member.send("POST", register, `{"email":"member@example.com","name":"Member"}`); r.status != http.StatusCreated {
			t.Fatalf("the member registers: %d %s", r.status, r.body)
		}

		known := attacker.send("POST", register, `{"email":"member@example.com","name":"Mallory"}`)
		fresh := attacker.send("POST", register, `{"email":"stranger@example.com","name":"Mallory"}`)
		if known.status != http.StatusCreated || fresh.status != http.StatusCreated {
			t.Fatalf("registered address %d %s, new address %d %s: want 201 for both", known.status, known.body, fresh.status, fresh.body)
		}
		if d := headerDiff(known.header, fresh.header); len(d) > 0 {
			t.Errorf("headers differ: %v", d)
		}
		k, f := known.members(t), fresh.members(t)
		if !slices.Equal(slices.Sorted(maps.Keys(k)), slices.Sorted(maps.Keys(f))) || k["status"] != f["status"] {
			t.Errorf("answers differ:\nregistered: %s\nnew:        %s", known.body, fresh.body)
		}

		// The member is told, with their own name and link; nothing of
		// what the attacker typed reaches them.
		mail := chaos.Sink{S: sys.smtp}
		var notice string
		testkit.EventuallyErr(t, "the member told of the attempt", func() error {
			texts, err := mail.Texts(context.Background(), "member@example.com")
			if err != nil {
				return err
			}
			for _, text := range texts {
				if strings.Contains(text, "You are already registered") {
					notice = text
					return nil
				}
			}
			return fmt.Errorf("%d emails, no notice", len(texts))
		}, testkit.Interval(100*time.Millisecond))
		if !strings.Contains(notice, "Hello Member,") || !strings.Contains(notice, "/manage/registrations/") || strings.Contains(notice, "Mallory") {
			t.Errorf("notice to the member:\n%s", notice)
		}
	})

	t.Run("idempotency-key probing", func(t *testing.T) {
		date := time.Now().UTC().AddDate(0, 0, 20).Format(time.DateOnly)
		body := `{"email":"booker@example.com","name":"Booker","phone":"1234567890","session_type":"individual","preferred_date":"` + date + `","message":"private"}`
		other := strings.Replace(body, `"message":"private"`, `"message":"probe"`, 1)
		const key = "form-2d6b1f"
		first := member.send("POST", "/api/sessions/book", body, "Idempotency-Key", key)
		own, _ := first.members(t)["id"].(string)
		if first.status != http.StatusCreated || own == "" {
			t.Fatalf("booking: %d %s", first.status, first.body)
		}
		tests := []struct {
			name     string
			who      *person
			body     string
			wantSame bool // the member's own booking, replayed
		}{
			{name: "the member's form resubmits", who: member, body: body, wantSame: true},
			{name: "another client replays key and body", who: attacker, body: body},
			{name: "another client tries the key with another body", who: accomplice, body: other},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := tt.who.send("POST", "/api/sessions/book", tt.body, "Idempotency-Key", key)
				if r.status != http.StatusCreated {
					t.Fatalf("status %d, want 201: %s", r.status, r.body)
				}
				same := r.members(t)["id"] == own
				replayed := r.header.Get("Idempotent-Replayed") != ""
				if same != tt.wantSame || replayed != tt.wantSame {
					t.Errorf("the member's booking %v, marked replayed %v; want %v: %s", same, replayed, tt.wantSame, r.body)
				}
			})
		}
	})
}

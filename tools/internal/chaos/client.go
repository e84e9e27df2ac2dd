package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/acube/platform/tools/internal/adminflow"
)

// Client speaks the platform's HTTP API: load through the gateway, checks
// straight to the owning services (so a check never depends on a route
// the gateway does not proxy, nor on its rate limits).
type Client struct {
	gateway string
	direct  map[string]string
	http    *http.Client

	// loginMu serializes logins: a refresh token is spent once, and a
	// TOTP code once per step.
	loginMu  sync.Mutex
	sessions map[string]*session // by admin email
	totp     map[string]string   // TOTP secret by admin email
	lastStep map[string]int64    // last TOTP step used, by admin email
}

// session is an admin's tokens.
type session struct {
	access, refresh string
	// renew is when the access token has half its lifetime left: from
	// then on login refreshes it, so a token login hands out lasts a
	// scenario (5 minutes at the service's default 10).
	renew time.Time
}

// NewClient talks to the gateway at gateway and to the services at their
// base URLs in direct (booking, admin, exporter).
func NewClient(gateway string, direct map[string]string) *Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &Client{gateway: gateway, direct: direct, http: &http.Client{Timeout: 20 * time.Second, Transport: tr},
		sessions: map[string]*session{}, totp: map[string]string{}, lastStep: map[string]int64{}}
}

// SetTOTP gives the client the TOTP secret of an admin whose login takes a
// second step: a superadmin's, which `admin bootstrap` prints
// (Services.Bootstrap returns it).
func (c *Client) SetTOTP(email, secret string) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	c.totp[strings.ToLower(email)] = secret
}

// answer is one HTTP exchange's outcome.
type answer struct {
	status int
	body   []byte
	err    error
}

// ok reports a 2xx answer.
func (a answer) ok() bool { return a.err == nil && a.status >= 200 && a.status < 300 }

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("status %d: %.200s", a.status, a.body)
}

func (c *Client) do(ctx context.Context, method, u, token string, body any, header map[string]string) answer {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{err: fmt.Errorf("encode %s %s: %w", method, u, err)}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return answer{err: fmt.Errorf("%s %s: %w", method, u, err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{err: fmt.Errorf("%s %s: %w", method, u, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return answer{status: resp.StatusCode, err: fmt.Errorf("%s %s: read body: %w", method, u, err)}
	}
	return answer{status: resp.StatusCode, body: b}
}

// decode reads a 2xx answer's JSON into v.
func (a answer) decode(v any) error {
	if !a.ok() {
		return fmt.Errorf("not accepted: %s", a)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// login returns an access token for the admin: the one it holds while it
// has half its lifetime left, else a refreshed one, else a new login —
// with the TOTP step when the account asks for one (enrolling first if it
// must). An admin logs in once per run and refreshes from then on, so a
// superadmin's TOTP step is rarely waited for. A refresh token is never
// presented twice: a refresh whose answer was lost spent it, and
// presenting it again after the service's grace would end the session
// (refresh reuse); any failed refresh falls back to a new login.
func (c *Client) login(ctx context.Context, email, password string) (string, error) {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	key := strings.ToLower(email)
	if s := c.sessions[key]; s != nil {
		if time.Now().Before(s.renew) {
			return s.access, nil
		}
		delete(c.sessions, key)
		a := c.do(ctx, http.MethodPost, c.gateway+"/api/admin/auth/refresh", "", map[string]string{"refresh_token": s.refresh}, nil)
		if ns, err := decodeSession(a); err == nil {
			c.sessions[key] = ns
			return ns.access, nil
		}
	}
	a := c.do(ctx, http.MethodPost, c.gateway+"/api/admin/auth/login", "", map[string]string{"email": email, "password": password}, nil)
	var step struct {
		MFARequired bool   `json:"mfa_required"`
		MFAToken    string `json:"mfa_token"`
		Enroll      bool   `json:"mfa_enrollment_required"`
	}
	if err := a.decode(&step); err != nil {
		return "", fmt.Errorf("log in as %s: %w", email, err)
	}
	if step.MFARequired {
		if step.Enroll {
			var e struct {
				Secret string `json:"secret"`
			}
			if err := c.do(ctx, http.MethodPost, c.gateway+"/api/admin/auth/mfa/enroll", "", map[string]string{"mfa_token": step.MFAToken}, nil).decode(&e); err != nil {
				return "", fmt.Errorf("log in as %s: enrol TOTP: %w", email, err)
			}
			c.totp[key] = e.Secret
		}
		code, err := c.code(ctx, key)
		if err != nil {
			return "", fmt.Errorf("log in as %s: %w", email, err)
		}
		a = c.do(ctx, http.MethodPost, c.gateway+"/api/admin/auth/mfa", "", map[string]string{"mfa_token": step.MFAToken, "code": code}, nil)
	}
	s, err := decodeSession(a)
	if err != nil {
		return "", fmt.Errorf("log in as %s: %w", email, err)
	}
	c.sessions[key] = s
	return s.access, nil
}

// code is a TOTP code of the admin's secret from a step not used yet (the
// service refuses a code's step twice): it waits for the next step when
// this one was spent.
func (c *Client) code(ctx context.Context, key string) (string, error) {
	secret := c.totp[key]
	if secret == "" {
		return "", errors.New("the login asks for a TOTP code and the run has no secret for it (Client.SetTOTP)")
	}
	now := time.Now()
	if adminflow.Step(now) <= c.lastStep[key] {
		next := time.Unix((c.lastStep[key]+1)*adminflow.Period, 0)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Until(next)):
		}
		now = time.Now()
	}
	code, err := adminflow.Code(secret, now)
	if err != nil {
		return "", err
	}
	c.lastStep[key] = adminflow.Step(now)
	return code, nil
}

// decodeSession reads a login's, a second step's or a refresh's tokens.
func decodeSession(a answer) (*session, error) {
	var v struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := a.decode(&v); err != nil {
		return nil, err
	}
	if v.AccessToken == "" {
		return nil, fmt.Errorf("no access token in %.200s", a.body)
	}
	return &session{access: v.AccessToken, refresh: v.RefreshToken, renew: time.Now().Add(time.Duration(v.ExpiresIn) * time.Second / 2)}, nil
}

// createAdmin invites an admin (role admin) as a superadmin and accepts
// the invitation with password through the link of the email the
// invitee receives in mail, as the invitee would.
func (c *Client) createAdmin(ctx context.Context, mail Mailbox, token, email, password string) error {
	a := c.do(ctx, http.MethodPost, c.gateway+"/api/admin/admins", token,
		map[string]string{"email": email, "name": "Chaos admin", "role": "admin"}, nil)
	if !a.ok() {
		return fmt.Errorf("invite admin %s: %s", email, a)
	}
	invitation, err := retry(ctx, time.Minute, func() (string, error) {
		texts, err := mail.Texts(ctx, email)
		if err != nil {
			return "", err
		}
		for _, t := range texts {
			if token, ok := adminflow.InvitationToken(t); ok {
				return token, nil
			}
		}
		return "", fmt.Errorf("no invitation email to %s", email)
	})
	if err != nil {
		return fmt.Errorf("invite admin %s: %w", email, err)
	}
	a = c.do(ctx, http.MethodPost, c.gateway+"/api/admin/invitations/accept", "",
		map[string]string{"token": invitation, "password": password}, nil)
	if !a.ok() {
		return fmt.Errorf("accept the invitation of %s: %s", email, a)
	}
	return nil
}

// createEvent creates an event a month ahead and returns its id.
func (c *Client) createEvent(ctx context.Context, token, title string, capacity int) (string, error) {
	start := time.Now().UTC().AddDate(0, 1, 0).Truncate(time.Hour)
	a := c.do(ctx, http.MethodPost, c.gateway+"/api/events", token, map[string]any{
		"title": title, "description": "chaos run", "location": "Room 1",
		"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339),
		"capacity": capacity,
	}, nil)
	var v struct {
		ID string `json:"id"`
	}
	if err := a.decode(&v); err != nil {
		return "", fmt.Errorf("create event: %w", err)
	}
	return v.ID, nil
}

// idOf extracts the id the service answered with: "id", "export_id", or
// the "job_id" of a bulk job still running.
func idOf(a answer) string {
	var v struct {
		ID       string `json:"id"`
		ExportID string `json:"export_id"`
		JobID    string `json:"job_id"` // a bulk job answered 202 {job_id, status, status_url}
	}
	if json.Unmarshal(a.body, &v) != nil {
		return ""
	}
	switch {
	case v.ExportID != "":
		return v.ExportID
	case v.JobID != "":
		return v.JobID
	}
	return v.ID
}

// list reads every page of an admin list at base+path (booking's
// {"items","next_cursor"} lists) into items, as raw JSON objects.
func (c *Client) list(ctx context.Context, token, service, path string, each func(json.RawMessage) error) error {
	cursor := ""
	for range 10_000 {
		u := c.direct[service] + path + "?limit=200"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		a := c.do(ctx, http.MethodGet, u, token, nil, nil)
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := a.decode(&page); err != nil {
			return fmt.Errorf("list %s: %w", path, err)
		}
		for _, it := range page.Items {
			if err := each(it); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
	return fmt.Errorf("list %s: too many pages", path)
}

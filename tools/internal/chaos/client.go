package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client speaks the platform's HTTP API: load through the gateway, checks
// straight to the owning services (so a check never depends on a route
// the gateway does not proxy, nor on its rate limits).
type Client struct {
	gateway string
	direct  map[string]string
	http    *http.Client
}

// NewClient talks to the gateway at gateway and to the services at their
// base URLs in direct (booking, admin, exporter).
func NewClient(gateway string, direct map[string]string) *Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &Client{gateway: gateway, direct: direct, http: &http.Client{Timeout: 20 * time.Second, Transport: tr}}
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

// login returns an access token for the admin.
func (c *Client) login(ctx context.Context, email, password string) (string, error) {
	a := c.do(ctx, http.MethodPost, c.gateway+"/api/admin/auth/login", "", map[string]string{"email": email, "password": password}, nil)
	var v struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.decode(&v); err != nil {
		return "", fmt.Errorf("log in as %s: %w", email, err)
	}
	return v.AccessToken, nil
}

// createAdmin creates an admin account (role admin) as a superadmin.
func (c *Client) createAdmin(ctx context.Context, token, email, password string) error {
	a := c.do(ctx, http.MethodPost, c.gateway+"/api/admin/admins", token,
		map[string]string{"email": email, "name": "Chaos admin", "role": "admin", "password": password}, nil)
	if !a.ok() {
		return fmt.Errorf("create admin %s: %s", email, a)
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

// idOf extracts the id the service answered with ("id", or "export_id").
func idOf(a answer) string {
	var v struct {
		ID       string `json:"id"`
		ExportID string `json:"export_id"`
	}
	if json.Unmarshal(a.body, &v) != nil {
		return ""
	}
	if v.ExportID != "" {
		return v.ExportID
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

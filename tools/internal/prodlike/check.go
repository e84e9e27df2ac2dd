package prodlike

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/acube/platform/tools/internal/chaos"
)

// SeedEmail is the address of the seed's booking curl (README, first
// curl).
const SeedEmail = "test@example.com"

// SeedBooking sends the seed's booking curl through the gateway's Service
// (with a preferred date a month ahead, since past dates are refused),
// wants 201, and waits until mail holds an email to SeedEmail. It returns
// the booking's id.
func (t *Topology) SeedBooking(ctx context.Context, mail chaos.Mailbox) (string, error) {
	body, err := json.Marshal(map[string]string{
		"email": SeedEmail, "name": "Test", "phone": "1234567890", "session_type": "individual",
		"preferred_date": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly), "message": "Test",
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL("gateway")+"/api/sessions/book", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("seed booking: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("seed booking: status %d, want 201: %s", resp.StatusCode, b)
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("seed booking: no id in %s", b)
	}
	err = waitUntil(ctx, "the seed booking's email to "+SeedEmail, func() bool {
		got, err := mail.To(ctx, SeedEmail)
		return err == nil && len(got) > 0
	}, nil)
	return v.ID, err
}

package prodlike

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"

	"github.com/acube/platform/libs/logging/logtest"
	"github.com/acube/platform/libs/smtptest"
	"github.com/acube/platform/tools/internal/adminflow"
	"github.com/acube/platform/tools/internal/stack"
)

// bounceAddr is refused by the test's SMTP relay with a 550 while
// opsEnv.bounce is set: the cause of a dead letter that an operator fixes.
const bounceAddr = "bounce@ops.test"

// opsEnv is one production topology the procedures of
// docs/operations.md run on, one after the other.
type opsEnv struct {
	top    *Topology
	sink   *smtptest.Sink
	bounce *atomic.Bool
	http   *http.Client
	// super is the superadmin's session: its first access token, signed
	// with the first signing key, and its refresh token.
	access, refresh string
}

// TestOpsProcedures executes the procedures of docs/operations.md on the
// production topology (`make prodlike`), step by step as the document
// says them, through what a cluster operator has: the API through the
// gateway, edited ConfigMaps, Secrets and pod templates with a rollout,
// a scale, and a backup and restore of the database. Each subtest is the
// section of the same name; the doc marks each "executed by
// TestOpsProcedures".
func TestOpsProcedures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole topology; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := upForOps(ctx, t)

	t.Run("replay dead letters", func(t *testing.T) { e.replayDeadLetters(ctx, t) })
	t.Run("rotate the admin signing key", func(t *testing.T) { e.rotateSigningKey(ctx, t) })
	t.Run("scale", func(t *testing.T) { e.scale(ctx, t) })
	t.Run("restore from backup", func(t *testing.T) { e.restore(ctx, t) })
	// Last: it lowers the public tier the others book through.
	t.Run("change rate limits", func(t *testing.T) { e.changeRateLimits(ctx, t) })
}

// upForOps brings the topology up with the test's SMTP relay (550 for
// bounceAddr while bounce is set) and the first superadmin (Deploy 6),
// logged in through the gateway.
func upForOps(ctx context.Context, t *testing.T) *opsEnv {
	t.Helper()
	root := stack.TestRoot(t)
	bin := os.Getenv("PRODLIKE_BIN")
	if bin == "" {
		bin = t.TempDir()
		if err := stack.Build(ctx, root, bin, stack.Services()...); err != nil {
			t.Fatal(err)
		}
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "nats-server"), "github.com/nats-io/nats-server/v2")
		build.Dir = filepath.Join(root, "tools")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build nats-server: %v\n%s", err, out)
		}
	}
	e := &opsEnv{bounce: &atomic.Bool{}, http: &http.Client{Timeout: 20 * time.Second}}
	e.bounce.Store(true)
	var logs logtest.Buffer
	started := time.Now()
	var err error
	e.top, err = Up(ctx, Config{
		Root: root, Bin: bin, Dir: t.TempDir(), Log: &logs,
		SMTP: func(tc *tls.Config, user, pass string) (string, int, error) {
			var err error
			e.sink, err = smtptest.Start(smtptest.Options{TLSConfig: tc, Username: user, Password: pass,
				Rcpt: func(to string) error {
					if strings.EqualFold(to, bounceAddr) && e.bounce.Load() {
						return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
					}
					return nil
				}})
			if err != nil {
				return "", 0, err
			}
			return e.sink.Host(), e.sink.Port(), nil
		},
	})
	if e.sink != nil {
		t.Cleanup(func() { _ = e.sink.Close() })
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(logs.String(), 300))
	}
	t.Cleanup(func() {
		if err := e.top.Close(); err != nil {
			t.Errorf("close the topology: %v", err)
		}
		if t.Failed() {
			t.Log(tail(logs.String(), 300))
		}
	})
	t.Logf("topology up in %s", time.Since(started).Round(100*time.Millisecond))

	email, password := "super@ops.test", adminflow.RandomPassword()
	secret, err := e.top.Bootstrap(ctx, email, password)
	if err != nil {
		t.Fatal(err)
	}
	if e.access, e.refresh, err = e.login(ctx, email, password, secret); err != nil {
		t.Fatal(err)
	}
	// booking checks the token once now, so that its key set is fetched
	// well before the rotation (docs/operations.md, "Rotate the admin
	// signing key": a new key id is fetched at most every 30 s).
	if st, b := e.call(ctx, t, http.MethodGet, e.top.URL("booking")+"/api/sessions", e.access, nil); st != http.StatusOK {
		t.Fatalf("booking with the first token: status %d: %s", st, b)
	}
	return e
}

// call sends one request and returns its status and body; a transport
// error fails the test.
func (e *opsEnv) call(ctx context.Context, t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	st, b, err := e.try(ctx, method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return st, b
}

func (e *opsEnv) try(ctx context.Context, method, url, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

// login logs the superadmin in through the gateway with its TOTP step and
// returns the access and refresh tokens.
func (e *opsEnv) login(ctx context.Context, email, password, totp string) (string, string, error) {
	gw := e.top.URL("gateway")
	st, b, err := e.try(ctx, http.MethodPost, gw+"/api/admin/auth/login", "", map[string]string{"email": email, "password": password})
	if err != nil || st != http.StatusOK {
		return "", "", fmt.Errorf("log in: status %d, %v: %s", st, err, b)
	}
	var step struct {
		MFAToken string `json:"mfa_token"`
	}
	if err := json.Unmarshal(b, &step); err != nil || step.MFAToken == "" {
		return "", "", fmt.Errorf("log in: no mfa_token in %s", b)
	}
	code, err := adminflow.Code(totp, time.Now())
	if err != nil {
		return "", "", err
	}
	st, b, err = e.try(ctx, http.MethodPost, gw+"/api/admin/auth/mfa", "", map[string]string{"mfa_token": step.MFAToken, "code": code})
	if err != nil || st != http.StatusOK {
		return "", "", fmt.Errorf("log in, TOTP step: status %d, %v: %s", st, err, b)
	}
	return decodeTokens(b)
}

func decodeTokens(b []byte) (string, string, error) {
	var v struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Access == "" {
		return "", "", fmt.Errorf("no tokens in %.200s", b)
	}
	return v.Access, v.Refresh, nil
}

// book sends a booking through the gateway as the seed's curl does and
// returns its id.
func (e *opsEnv) book(ctx context.Context, t *testing.T, email string) string {
	t.Helper()
	st, b := e.call(ctx, t, http.MethodPost, e.top.URL("gateway")+"/api/sessions/book", "", map[string]string{
		"email": email, "name": "Ops", "phone": "1234567890", "session_type": "individual",
		"preferred_date": time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly), "message": "ops",
	})
	if st != http.StatusCreated {
		t.Fatalf("book for %s: status %d: %s", email, st, b)
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.ID == "" {
		t.Fatalf("book for %s: no id in %s", email, b)
	}
	return v.ID
}

// mails counts the emails the relay accepted for addr.
func (e *opsEnv) mails(addr string) int {
	n := 0
	for _, m := range e.sink.Messages() {
		if slices.ContainsFunc(m.To, func(to string) bool { return strings.EqualFold(to, addr) }) {
			n++
		}
	}
	return n
}

// waitMails waits until the relay has accepted n emails for addr.
func (e *opsEnv) waitMails(ctx context.Context, t *testing.T, addr string, n int) {
	t.Helper()
	if err := waitUntil(ctx, fmt.Sprintf("%d emails to %s", n, addr), func() bool { return e.mails(addr) >= n }, nil); err != nil {
		t.Fatal(err)
	}
}

// replayDeadLetters: an email the relay refuses for good (550) becomes a
// dead letter; the admin lists and inspects it, fixes the cause, replays
// it through the API; the email goes out once.
func (e *opsEnv) replayDeadLetters(ctx context.Context, t *testing.T) {
	gw := e.top.URL("gateway")
	e.book(ctx, t, bounceAddr)
	type letter struct {
		Seq       uint64 `json:"seq"`
		Consumer  string `json:"consumer"`
		Error     string `json:"error"`
		EventType string `json:"event_type"`
	}
	var found letter
	err := waitUntil(ctx, "the refused email's dead letter", func() bool {
		st, b, err := e.try(ctx, http.MethodGet, e.top.URL("admin")+"/api/admin/dead-letters", e.access, nil)
		if err != nil || st != http.StatusOK {
			return false
		}
		var page struct {
			Items []letter `json:"items"`
		}
		if json.Unmarshal(b, &page) != nil {
			return false
		}
		for _, l := range page.Items {
			if strings.Contains(l.Error, "550") {
				found = l
				return true
			}
		}
		return false
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dead letter %d of consumer %s (%s): %s", found.Seq, found.Consumer, found.EventType, found.Error)

	// The doc's four calls, through the gateway.
	if st, b := e.call(ctx, t, http.MethodGet, gw+"/api/admin/dead-letters", e.access, nil); st != http.StatusOK {
		t.Fatalf("list: status %d: %s", st, b)
	}
	seq := fmt.Sprint(found.Seq)
	st, b := e.call(ctx, t, http.MethodGet, gw+"/api/admin/dead-letters/"+seq, e.access, nil)
	if st != http.StatusOK || !bytes.Contains(b, []byte(bounceAddr)) {
		t.Fatalf("inspect: status %d, want 200 with the event naming %s: %.300s", st, bounceAddr, b)
	}
	e.bounce.Store(false) // the cause fixed: the mailbox exists now
	if st, b := e.call(ctx, t, http.MethodPost, gw+"/api/admin/dead-letters/"+seq+"/replay", e.access, nil); st/100 != 2 {
		t.Fatalf("replay: status %d: %s", st, b)
	}
	e.waitMails(ctx, t, bounceAddr, 1)
	st, b = e.call(ctx, t, http.MethodDelete, gw+"/api/admin/dead-letters/"+seq, e.access, nil)
	t.Logf("discard after the replay: status %d: %.200s", st, b)
	if st/100 != 2 && st != http.StatusNotFound {
		t.Errorf("discard: status %d, want 2xx (or 404 if the replay removed it): %s", st, b)
	}
	if n := e.mails(bounceAddr); n != 1 {
		t.Errorf("%d emails to %s after the replay, want 1", n, bounceAddr)
	}
}

// rotateSigningKey follows "Rotate the admin signing key": step 1 (new
// key signs, the old one verifies only), step 2 (old key removed).
func (e *opsEnv) rotateSigningKey(ctx context.Context, t *testing.T) {
	const (
		signing    = "acube-admin-signing-key"
		verifyKeys = "acube-admin-verify-keys"
		verifyDir  = "/etc/acube/verify-keys"
	)
	top, admin, booking := e.top, e.top.Deployments["admin"], e.top.Deployments["booking"]
	gw := top.URL("gateway")
	oldKid := kid(t, e.access)
	oldPEM, err := top.Secret(signing, "signing.pem")
	if err != nil {
		t.Fatal(err)
	}
	newPEM, err := ed25519PEM()
	if err != nil {
		t.Fatal(err)
	}

	// Step 1: the old key's public half into a second Secret, mounted and
	// named in ADMIN_VERIFY_KEY_FILES; the new key into the signing
	// Secret; roll out the admin.
	top.SetSecret(verifyKeys, "old.pem", publicPEM(t, oldPEM))
	top.SetSecret(signing, "signing.pem", newPEM)
	admin.ApplyPodSpec(func(ps *corev1.PodSpec) {
		ps.Volumes = append(ps.Volumes, corev1.Volume{Name: "verify-keys", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: verifyKeys}}})
		c := &ps.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "verify-keys", MountPath: verifyDir, ReadOnly: true})
		c.Env = append(c.Env, corev1.EnvVar{Name: "ADMIN_VERIFY_KEY_FILES", Value: verifyDir + "/old.pem"})
	})
	if err := admin.RollingRestart(ctx); err != nil {
		t.Fatalf("roll out the admin: %v", err)
	}
	if kids := e.jwksKids(ctx, t); !slices.Contains(kids, oldKid) || len(kids) != 2 {
		t.Fatalf("JWKS after step 1: %v, want the old key %s and a new one", kids, oldKid)
	}
	st, b := e.call(ctx, t, http.MethodPost, gw+"/api/admin/auth/refresh", "", map[string]string{"refresh_token": e.refresh})
	if st != http.StatusOK {
		t.Fatalf("refresh (refresh tokens are opaque, unaffected): status %d: %s", st, b)
	}
	newAccess, newRefresh, err := decodeTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	e.refresh = newRefresh
	newKid := kid(t, newAccess)
	if newKid == oldKid {
		t.Fatalf("a token issued after step 1 carries the old key id %s", oldKid)
	}
	for _, svc := range []string{"booking", "admin"} {
		path := map[string]string{"booking": "/api/sessions", "admin": "/api/admin/dead-letters"}[svc]
		if st, b := e.call(ctx, t, http.MethodGet, top.URL(svc)+path, e.access, nil); st != http.StatusOK {
			t.Errorf("%s refuses the old key's token during the rotation: %d %s", svc, st, b)
		}
	}
	// booking fetches a key id it does not know, at most every 30 s.
	started := time.Now()
	if err := waitUntil(ctx, "booking accepting the new key's token", func() bool {
		st, _, err := e.try(ctx, http.MethodGet, top.URL("booking")+"/api/sessions", newAccess, nil)
		return err == nil && st == http.StatusOK
	}, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("step 1: old key %s verifies, new key %s signs; booking took the new key after %s", oldKid, newKid, time.Since(started).Round(100*time.Millisecond))

	// Step 2: remove the old key and roll out again.
	admin.ApplyPodSpec(func(ps *corev1.PodSpec) {
		ps.Volumes = slices.DeleteFunc(ps.Volumes, func(v corev1.Volume) bool { return v.Name == "verify-keys" })
		c := &ps.Containers[0]
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "verify-keys" })
		c.Env = slices.DeleteFunc(c.Env, func(v corev1.EnvVar) bool { return v.Name == "ADMIN_VERIFY_KEY_FILES" })
	})
	if err := admin.RollingRestart(ctx); err != nil {
		t.Fatalf("roll out the admin again: %v", err)
	}
	if kids := e.jwksKids(ctx, t); !slices.Equal(kids, []string{newKid}) {
		t.Fatalf("JWKS after step 2: %v, want only %s", kids, newKid)
	}
	if st, _ := e.call(ctx, t, http.MethodGet, top.URL("admin")+"/api/admin/dead-letters", e.access, nil); st != http.StatusUnauthorized {
		t.Errorf("admin answers the old key's token with %d after step 2, want 401", st)
	}
	// booking (and the exporter) keep a key set up to 5 minutes: rolling
	// them drops the old key at once.
	if err := booking.RollingRestart(ctx); err != nil {
		t.Fatalf("roll out booking: %v", err)
	}
	if st, _ := e.call(ctx, t, http.MethodGet, top.URL("booking")+"/api/sessions", e.access, nil); st != http.StatusUnauthorized {
		t.Errorf("booking answers the old key's token with %d after its rollout, want 401", st)
	}
	if st, b := e.call(ctx, t, http.MethodGet, top.URL("booking")+"/api/sessions", newAccess, nil); st != http.StatusOK {
		t.Errorf("booking refuses the new key's token: %d %s", st, b)
	}
	e.access = newAccess
}

// kid is the key id in a JWT's header.
func kid(t *testing.T, token string) string {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Kid == "" {
		t.Fatalf("token header without kid: %s", b)
	}
	return h.Kid
}

// jwksKids lists the key ids the admin's JWKS publishes, sorted.
func (e *opsEnv) jwksKids(ctx context.Context, t *testing.T) []string {
	t.Helper()
	st, b := e.call(ctx, t, http.MethodGet, e.top.URL("admin")+"/api/admin/auth/jwks.json", "", nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if st != http.StatusOK || json.Unmarshal(b, &set) != nil {
		t.Fatalf("JWKS: status %d: %s", st, b)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

// publicPEM is the public half of a PKCS#8 Ed25519 key, as `openssl pkey
// -pubout` writes it.
func publicPEM(t *testing.T, private string) string {
	t.Helper()
	blk, _ := pem.Decode([]byte(private))
	if blk == nil {
		t.Fatal("signing key: no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.(ed25519.PrivateKey).Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// scale adds a third booking pod: it joins the Service's balancer and
// serves; scaling back terminates it.
func (e *opsEnv) scale(ctx context.Context, t *testing.T) {
	d := e.top.Deployments["booking"]
	if err := d.Scale(ctx, 3); err != nil {
		t.Fatal(err)
	}
	pods := d.Pods()
	third := pods[len(pods)-1]
	if len(pods) != 3 || !slices.Contains(d.Balancer().Backends(), third.Addr) {
		t.Fatalf("after scaling to 3: %d pods, balancer %v", len(pods), d.Balancer().Backends())
	}
	before := servedRequests(ctx, t, third)
	for range 6 {
		if st, b := e.call(ctx, t, http.MethodGet, e.top.URL("booking")+"/api/events", "", nil); st != http.StatusOK {
			t.Fatalf("GET /api/events through booking's Service: %d %s", st, b)
		}
	}
	if after := servedRequests(ctx, t, third); after-before < 2 {
		t.Errorf("the third pod served %v of 6 requests through the Service, want 2 (round-robin)", after-before)
	}
	if err := d.Scale(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Balancer().Backends()); n != 2 {
		t.Errorf("after scaling back: the balancer sends to %d pods, want 2", n)
	}
}

// servedRequests sums a pod's http_requests_total for GET /api/events.
func servedRequests(ctx context.Context, t *testing.T, p *Pod) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.ProbeAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "http_requests_total{") && strings.Contains(line, `"/api/events"`) && strings.Contains(line, `method="GET"`) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// restore takes a backup, books after it, restores the backup with the
// database's pods stopped, and checks what comes back and what is sent
// again: the booking after the backup is gone, its email is not sent
// again, and nothing before the backup is emailed twice.
func (e *opsEnv) restore(ctx context.Context, t *testing.T) {
	top := e.top
	before := e.book(ctx, t, "before@ops.test")
	e.waitMails(ctx, t, "before@ops.test", 1)
	// An event written before the backup and published after it: booking's
	// relay is held off (its advisory lock taken here) while the booking
	// is made and the backup taken.
	db, err := pgx.Connect(ctx, top.Postgres.URL(top.Postgres.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	holdRelayLock(ctx, t, db, "booking")
	e.book(ctx, t, "unsent@ops.test")
	var unsent int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM booking.outbox WHERE sent_at IS NULL").Scan(&unsent); err != nil || unsent == 0 {
		t.Fatalf("booking's outbox holds %d unsent events while its relay is held off (%v), want 1 or more", unsent, err)
	}
	backup := filepath.Join(t.TempDir(), "acube.dump")
	if err := top.Postgres.Dump(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "SELECT pg_advisory_unlock_all()"); err != nil {
		t.Fatal(err)
	}
	e.waitMails(ctx, t, "unsent@ops.test", 1)
	after := e.book(ctx, t, "after@ops.test")
	e.waitMails(ctx, t, "after@ops.test", 1)

	users := []string{"booking", "admin", "mailer", "exporter"}
	eachDeployment(t, users, func(n string) error { return top.Deployments[n].Scale(ctx, 0) })
	if err := top.Postgres.Restore(ctx, backup); err != nil {
		t.Fatal(err)
	}
	eachDeployment(t, users, func(n string) error {
		d := top.Deployments[n]
		if err := d.runInit(ctx); err != nil {
			return err
		}
		return d.Scale(ctx, 2)
	})

	for id, want := range map[string]int{before: http.StatusOK, after: http.StatusNotFound} {
		if st, b := e.call(ctx, t, http.MethodGet, top.URL("booking")+"/api/sessions/"+id, e.access, nil); st != want {
			t.Errorf("booking %s after the restore: %d, want %d: %.200s", id, st, want, b)
		}
	}
	// The event that was unsent in the backup is published again (same
	// id, inside JetStream's duplicate window, so the stream drops it).
	pg, err := pgx.Connect(ctx, top.Postgres.URL(top.Postgres.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	if err := waitUntil(ctx, "booking's restored outbox published again", func() bool {
		var n int
		return pg.QueryRow(ctx, "SELECT count(*) FROM booking.outbox WHERE sent_at IS NULL").Scan(&n) == nil && n == 0
	}, nil); err != nil {
		t.Fatal(err)
	}
	// A booking after the restore is emailed; by then the mailer has
	// consumed whatever the restore made it see again.
	e.book(ctx, t, "restored@ops.test")
	e.waitMails(ctx, t, "restored@ops.test", 1)
	for _, addr := range []string{"before@ops.test", "unsent@ops.test", "after@ops.test"} {
		if n := e.mails(addr); n != 1 {
			t.Errorf("%d emails to %s after the restore, want 1", n, addr)
		}
	}
}

// holdRelayLock takes the outbox relay lock of schema on conn (the key
// libs/outbox derives from the schema's name), ending the session of the
// replica holding it, as docs/operations.md's AcubeOutboxNoActiveRelay
// does for a vanished pod, until conn holds it: no replica publishes the
// schema's events until conn lets go.
func holdRelayLock(ctx context.Context, t *testing.T, conn *pgx.Conn, schema string) {
	t.Helper()
	h := fnv.New64a()
	_, _ = h.Write([]byte("acube-outbox-relay:" + schema))
	key := int64(h.Sum64())
	try := func() bool {
		var got bool
		err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got)
		return err == nil && got
	}
	err := waitUntil(ctx, "the relay lock of "+schema, func() bool {
		if try() {
			return true
		}
		// The relay that held it tries again the moment it sees its
		// session end, within a millisecond: wait here for the holder to
		// exit (pg_terminate_backend's timeout) and try at once, before
		// the relay's new session is up. A try 100 ms later lost that
		// race every time once (TestOpsProcedures, 419 s of it).
		_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_locks
WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
  AND (classid::bigint << 32 | objid::bigint) = $1`, key)
		return try()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// eachDeployment runs f for every name at once and fails on any error.
func eachDeployment(t *testing.T, names []string, f func(string) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, n := range names {
		wg.Go(func() {
			if err := f(n); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", n, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// changeRateLimits edits the gateway-ratelimits ConfigMap (public tier 3
// a minute), applies it and rolls the gateway: the new pods refuse the
// fourth request of a minute.
func (e *opsEnv) changeRateLimits(ctx context.Context, t *testing.T) {
	const name, key = "gateway-ratelimits", "ratelimits.yaml"
	data, err := e.top.ConfigMapData(name)
	if err != nil {
		t.Fatal(err)
	}
	const from, to = "public:\n    limits: [10/minute, 30/hour]", "public:\n    limits: [3/minute, 30/hour]"
	if !strings.Contains(data[key], from) {
		t.Fatalf("%s/%s has no %q", name, key, from)
	}
	if err := e.top.ApplyConfigMap(name, map[string]string{key: strings.Replace(data[key], from, to, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := e.top.Deployments["gateway"].RollingRestart(ctx); err != nil {
		t.Fatalf("roll the gateway: %v", err)
	}
	var got []int
	for range 4 {
		st, _ := e.call(ctx, t, http.MethodGet, e.top.URL("gateway")+"/api/events", "", nil)
		got = append(got, st)
	}
	if !slices.Equal(got, []int{200, 200, 200, 429}) {
		t.Errorf("GET /api/events four times after the change: %v, want 200 200 200 429", got)
	}
}

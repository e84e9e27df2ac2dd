package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acube/platform/libs/apispec/apitest"
	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/authn/authntest"
	"github.com/acube/platform/libs/clientip"
	"github.com/acube/platform/libs/events"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/export"
	"github.com/acube/platform/services/exporter/internal/httpapi"
	"github.com/acube/platform/services/exporter/internal/store"
)

type fixture struct {
	t      *testing.T
	pool   *pgxpool.Pool
	st     *store.Store
	worker *export.Worker
	h      http.Handler
	iss    *authntest.Issuer // signs admin tokens
	files  *objstore.Bucket  // the EXPORTS bucket, as this replica reaches it
	// natsURL and v are what another replica over the same database needs.
	natsURL string
	v       *authn.Verifier
	// val checks every exchange against the OpenAPI document: h is
	// wrapped in it, and client (for requests to a started server) too.
	val    *apitest.Validator
	client *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	iss := authntest.NewIssuer(t)
	v, err := authn.NewVerifier(authn.Config{Issuer: "acube-admin", Audience: "acube", StaticKeys: iss.PublicKeys()})
	if err != nil {
		t.Fatal(err)
	}
	pool := dbtest.NewPool(t)
	files, ns := objstoretest.Start(t, stream.ExportFiles(1, time.Hour))
	m, err := export.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	links := export.Links{Base: "http://gw.example"}
	log := dbtest.Discard()
	w := export.NewWorker(st, st, files, m, log, time.Now, export.WorkerConfig{MaxAttempts: 1, TTL: time.Hour, Links: links})
	val := apitest.New(t)
	return &fixture{t: t, pool: pool, st: st, worker: w, h: val.Handler(router(st, files, v)), iss: iss,
		files: files, natsURL: ns.URL(), v: v, val: val, client: val.Client()}
}

// router is one replica's API over st and files.
func router(st *store.Store, files httpapi.Files, v *authn.Verifier) http.Handler {
	log := dbtest.Discard()
	// Trusted as in the cluster: the gateway and the ingress are pods.
	clients, err := clientip.New(clientip.Config{TrustedProxies: []string{"192.0.2.0/24", "10.244.0.0/16"}})
	if err != nil {
		panic(err)
	}
	api := httpapi.New(export.NewService(st, time.Now, func() {}), files, export.Links{Base: "http://gw.example"}, httpapi.AdminAuth(v, log), clients, log)
	r := chi.NewRouter()
	r.Use(web.RequestIDs)
	r.NotFound(web.NotFoundHandler)
	api.Routes(r)
	return r
}

// replica is another exporter replica: the same database, its own
// connection to the EXPORTS bucket, no disk shared with the first.
func (f *fixture) replica() http.Handler {
	f.t.Helper()
	return f.val.Handler(router(f.st, objstoretest.Replica(f.t, f.natsURL, stream.ExportFiles(1, time.Hour).Name), f.v))
}

// claims are an access token's as the admin service would issue them.
func claims(role string) authn.Claims {
	return authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "acube-admin", Subject: "admin-1", Audience: jwt.ClaimStrings{"acube"},
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(5 * time.Minute))},
		Email: "ann@example.org", Name: "Ann", Role: role,
	}
}

// token signs an access token of role as the admin service would.
func (f *fixture) token(role string) string {
	f.t.Helper()
	return f.iss.Sign(f.t, claims(role))
}

func (f *fixture) do(method, path, token, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) seed(n int) {
	f.t.Helper()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	err := pgx.BeginFunc(context.Background(), f.pool, func(tx pgx.Tx) error {
		for i := range n {
			entity := "session"
			if i%2 == 1 {
				entity = "volunteer"
			}
			r := audit.Record{EventID: uuid.Must(uuid.NewV7()), OccurredAt: base.Add(time.Duration(i) * time.Hour),
				ActorID: "a1", ActorEmail: "@ann@example.org", Action: "delete", Entity: entity, Changes: json.RawMessage(`{}`)}
			if err := store.InsertAudit(context.Background(), tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

type accepted struct {
	ExportID  string `json:"export_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
}

type status struct {
	Status      string `json:"status"`
	Progress    int    `json:"progress"`
	RowsTotal   int64  `json:"rows_total"`
	DownloadURL string `json:"download_url"`
	Filters     struct {
		Entity string `json:"entity"`
		To     string `json:"to"`
	} `json:"filters"`
}

func TestIntegrationAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	paths := []struct{ method, path string }{
		{http.MethodPost, "/api/admin/bulk/export/audit-logs"},
		{http.MethodGet, "/api/admin/exports"},
		{http.MethodGet, "/api/admin/exports/" + uuid.NewString()},
		{http.MethodGet, "/api/admin/exports/" + uuid.NewString() + "/download"},
	}
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{name: "no token", token: "", want: http.StatusUnauthorized},
		{name: "garbage", token: "not.a.jwt", want: http.StatusUnauthorized},
		{name: "signed by another key", token: f.iss.Forge(t, claims(authn.RoleAdmin)), want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		for _, p := range paths {
			t.Run(tt.name+" "+p.method+" "+p.path, func(t *testing.T) {
				rec := f.do(p.method, p.path, tt.token, "")
				if rec.Code != tt.want {
					t.Errorf("status = %d, want %d: %s", rec.Code, tt.want, rec.Body)
				}
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
	}
}

func TestIntegrationExportFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(40)
	tok := f.token(authn.RoleAdmin)

	rec := f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, `{"entity":"session","to":"2025-01-01"}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST = %d %s, want 202", rec.Code, rec.Body)
	}
	acc := decode[accepted](t, rec)
	statusPath := "/api/admin/exports/" + acc.ExportID
	if acc.Status != "queued" || acc.StatusURL != "http://gw.example"+statusPath || rec.Header().Get("Location") != acc.StatusURL {
		t.Errorf("202 body %s, Location %q", rec.Body, rec.Header().Get("Location"))
	}

	if rec := f.do(http.MethodGet, statusPath+"/download", tok, ""); rec.Code != http.StatusConflict {
		t.Errorf("download before it runs = %d, want 409", rec.Code)
	}
	st := decode[status](t, f.do(http.MethodGet, statusPath, tok, ""))
	if st.Status != "queued" || st.Filters.Entity != "session" || st.Filters.To != "2025-01-02T00:00:00Z" {
		t.Errorf("queued status = %+v", st)
	}

	if worked, err := f.worker.RunOnce(context.Background()); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	st = decode[status](t, f.do(http.MethodGet, statusPath, tok, ""))
	if st.Status != "completed" || st.Progress != 100 || st.RowsTotal != 12 || st.DownloadURL != acc.StatusURL+"/download" {
		t.Errorf("completed status = %+v; want 12 session rows of 1 January", st)
	}
	rec = f.do(http.MethodGet, statusPath+"/download", tok, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("download = %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=\"audit-logs-") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	if len(lines) != 13 || !strings.Contains(lines[1], ",'@ann@example.org,") {
		t.Errorf("CSV has %d lines, first row %q; want header + 12, e-mail neutralised", len(lines), lines[1])
	}
	list := decode[struct{ Items []status }](t, f.do(http.MethodGet, "/api/admin/exports?limit=10", tok, ""))
	if len(list.Items) != 1 {
		t.Errorf("list has %d exports, want 1", len(list.Items))
	}
	// The request itself is an audited admin action.
	if subjects := dbtest.OutboxSubjects(t, f.pool); len(subjects) != 2 || subjects[0] != export.TypeAuditRequested {
		t.Errorf("outbox = %v", subjects)
	}
}

// TestIntegrationAuditRecordsTheRealClient: an export request that came
// client → ingress pod → gateway pod is audited with the client's
// address, not the ingress pod's the gateway appended (issue 13, finding
// 7), and a client talking to the exporter directly cannot pick its
// address with the header.
func TestIntegrationAuditRecordsTheRealClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		remote string
		xff    string
		want   string
	}{
		{name: "through ingress and gateway", remote: "10.244.1.5:40000", xff: "203.0.113.50, 10.244.0.9", want: "203.0.113.50"},
		{name: "client-written hop left of the real one", remote: "10.244.1.5:40000", xff: "1.2.3.4, 203.0.113.51, 10.244.0.9", want: "203.0.113.51"},
		{name: "direct client spoofing the header", remote: "198.51.100.7:5555", xff: "203.0.113.52", want: "198.51.100.7"},
	}
	f := newFixture(t)
	tok := f.token(authn.RoleAdmin)
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/api/admin/bulk/export/audit-logs", strings.NewReader(`{"entity":"session"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Forwarded-For", tt.xff)
		req.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%s: POST = %d %s", tt.name, rec.Code, rec.Body)
		}
		var ev events.Event
		if err := json.Unmarshal(dbtest.OutboxPayload(t, f.pool, export.TypeAuditRequested), &ev); err != nil {
			t.Fatal(err)
		}
		var rec2 events.AuditRecord
		if err := ev.UnmarshalData(&rec2); err != nil {
			t.Fatal(err)
		}
		if rec2.ClientIP != tt.want {
			t.Errorf("%s: audited client_ip %q, want %q", tt.name, rec2.ClientIP, tt.want)
		}
	}
}

func TestIntegrationRequestValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(authn.RoleSuperadmin)
	tests := []struct {
		name  string
		query string
		body  string
		want  int
		field string // named in the error's fields
	}{
		{name: "no body exports everything", body: "", want: http.StatusAccepted},
		{name: "empty object exports everything", body: `{}`, want: http.StatusAccepted},
		{name: "all filters", body: `{"admin_id":"0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b","admin":"ann@example.org","action":"delete","entity":"session","from":"2025-01-01","to":"2025-01-31T23:59:59Z"}`, want: http.StatusAccepted},
		{name: "admin_id as documented", body: `{"admin_id":"0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"}`, want: http.StatusAccepted},
		{name: "admin_id not a uuid", body: `{"admin_id":"x"}`, want: http.StatusUnprocessableEntity, field: "admin_id"},
		{name: "bad date", body: `{"from":"last tuesday"}`, want: http.StatusUnprocessableEntity, field: "from"},
		{name: "filters in the query", query: "?entity=session&from=2025-01-01", want: http.StatusBadRequest, field: "entity"},
		{name: "empty range", body: `{"from":"2025-02-01","to":"2025-01-01"}`, want: http.StatusUnprocessableEntity, field: "to"},
		{name: "unknown field", body: `{"adminId":"x"}`, want: http.StatusBadRequest},
		{name: "wrong type", body: `{"entity":5}`, want: http.StatusBadRequest},
		{name: "not json", body: `{`, want: http.StatusBadRequest},
		{name: "too large", body: `{"admin":"` + strings.Repeat("x", 9000) + `"}`, want: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs"+tt.query, tok, tt.body)
			if rec.Code != tt.want {
				t.Errorf("status = %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if tt.field != "" {
				if _, ok := decode[web.Error](t, rec).Fields[tt.field]; !ok {
					t.Errorf("error %s does not name field %s", rec.Body, tt.field)
				}
			}
		})
	}
}

func TestIntegrationDownloadIDTricks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(authn.RoleAdmin)
	real := decode[accepted](t, f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, ""))
	if worked, err := f.worker.RunOnce(context.Background()); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	var file string
	if err := f.pool.QueryRow(context.Background(), `SELECT file_name FROM exports`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	id := real.ExportID
	for _, path := range []string{
		"/api/admin/exports/../../../../etc/passwd/download",
		"/api/admin/exports/..%2F..%2F..%2Fetc%2Fpasswd/download",
		"/api/admin/exports/%2e%2e/download",
		"/api/admin/exports/" + file + "/download",
		"/api/admin/exports/" + strings.TrimSuffix(file, ".csv") + "/download",
		"/api/admin/exports/{" + id + "}/download",
		"/api/admin/exports/urn:uuid:" + id + "/download",
		"/api/admin/exports/" + strings.ReplaceAll(id, "-", "") + "/download",
		"/api/admin/exports/" + id + "%00/download",
		"/api/admin/exports/" + id + "/download/..%2F..%2Fsecret",
		"/api/admin/exports/" + uuid.NewString() + "/download",
	} {
		t.Run(path, func(t *testing.T) {
			rec := f.do(http.MethodGet, path, tok, "")
			if rec.Code != http.StatusNotFound {
				t.Errorf("status = %d, want 404", rec.Code)
			}
			if strings.Contains(rec.Body.String(), "event_id") {
				t.Error("the export's content leaked")
			}
		})
	}
	if rec := f.do(http.MethodGet, "/api/admin/exports/"+id+"/download", tok, ""); rec.Code != http.StatusOK {
		t.Errorf("the real download = %d, want 200", rec.Code)
	}
}

func TestIntegrationFailedAndExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	tok := f.token(authn.RoleAdmin)
	failed := decode[accepted](t, f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, ""))
	claim := uuid.New()
	x, ok, err := f.st.Claim(ctx, claim, time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := f.st.Fail(ctx, x.ID, claim, "the database was unavailable", time.Now(), export.FailedData{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "/download"} {
		rec := f.do(http.MethodGet, "/api/admin/exports/"+failed.ExportID+p, tok, "")
		body := decode[web.Error](t, rec)
		if rec.Code != http.StatusGone || body.Detail != "the database was unavailable" {
			t.Errorf("GET failed export%s = %d %+v, want 410 with the reason", p, rec.Code, body)
		}
	}

	done := decode[accepted](t, f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, ""))
	if worked, err := f.worker.RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE exports SET expires_at = now() - interval '1 second' WHERE id = $1`, done.ExportID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "/download"} {
		if rec := f.do(http.MethodGet, "/api/admin/exports/"+done.ExportID+p, tok, ""); rec.Code != http.StatusNotFound {
			t.Errorf("GET expired export%s = %d, want 404", p, rec.Code)
		}
	}
}

// TestIntegrationDownloadFromAnotherReplica: the replica that serves a
// download is not the one whose worker wrote the file; it streams it from
// the bucket with its length and validators, answers a conditional
// request and a range, and says 404 once the file is gone.
func TestIntegrationDownloadFromAnotherReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	other := f.replica()
	f.seed(300)
	tok := f.token(authn.RoleAdmin)
	acc := decode[accepted](t, f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, ""))
	if worked, err := f.worker.RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	x, err := f.st.Get(ctx, uuid.MustParse(acc.ExportID))
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/admin/exports/" + acc.ExportID + "/download"
	get := func(header ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		other.ServeHTTP(rec, req)
		return rec
	}
	rec := get()
	if rec.Code != http.StatusOK || int64(rec.Body.Len()) != x.Size || rec.Header().Get("Content-Length") != strconv.FormatInt(x.Size, 10) ||
		rec.Header().Get("Etag") == "" || rec.Header().Get("Last-Modified") == "" || rec.Header().Get("Content-Type") != export.ContentType {
		t.Fatalf("download from the other replica = %d, %d bytes of %d, %v", rec.Code, rec.Body.Len(), x.Size, rec.Header())
	}
	if lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n"); len(lines) != 301 {
		t.Fatalf("CSV has %d lines, want header + 300", len(lines))
	}
	whole := rec.Body.String()
	if again := get("If-None-Match", rec.Header().Get("Etag")); again.Code != http.StatusNotModified {
		t.Errorf("conditional download = %d, want 304", again.Code)
	}
	if part := get("Range", "bytes=100-199"); part.Code != http.StatusPartialContent || part.Body.String() != whole[100:200] {
		t.Errorf("range download = %d %q, want 206 with bytes 100-199", part.Code, part.Body.String())
	}
	if err := f.files.Delete(ctx, x.File); err != nil {
		t.Fatal(err)
	}
	if gone := get(); gone.Code != http.StatusNotFound {
		t.Errorf("download of a file gone from the bucket = %d, want 404", gone.Code)
	}
}

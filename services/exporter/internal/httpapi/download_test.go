package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acube/platform/libs/authn"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/exporter/internal/audit"
	"github.com/acube/platform/services/exporter/internal/dbtest"
	"github.com/acube/platform/services/exporter/internal/export"
	"github.com/acube/platform/services/exporter/internal/store"
)

// completed requests an export of everything, runs it and returns its id.
func (f *fixture) completed(tok string) string {
	f.t.Helper()
	acc := decode[accepted](f.t, f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, ""))
	if worked, err := f.worker.RunOnce(context.Background()); !worked || err != nil {
		f.t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	return acc.ExportID
}

// TestIntegrationExportByAdminID: the documented admin_id filter selects
// the records of that admin's id (issue 14: the server wanted "admin").
func TestIntegrationExportByAdminID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	ann, bob := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		for i, actor := range []uuid.UUID{ann, bob, ann, ann, bob} {
			r := audit.Record{EventID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().Add(-time.Duration(i+1) * time.Minute), ActorID: actor.String(),
				ActorEmail: "x@example.org", Action: "delete", Entity: "session", Changes: json.RawMessage(`{}`)}
			if err := store.InsertAudit(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.token(authn.RoleAdmin)
	rec := f.do(http.MethodPost, "/api/admin/bulk/export/audit-logs", tok, `{"admin_id":"`+strings.ToUpper(ann.String())+`"}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST = %d %s", rec.Code, rec.Body)
	}
	id := decode[accepted](t, rec).ExportID
	if worked, err := f.worker.RunOnce(ctx); !worked || err != nil {
		t.Fatalf("RunOnce = %v, %v", worked, err)
	}
	var st struct {
		RowsTotal int64 `json:"rows_total"`
		Filters   struct {
			AdminID string `json:"admin_id"`
		} `json:"filters"`
	}
	rec = f.do(http.MethodGet, "/api/admin/exports/"+id, tok, "")
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.RowsTotal != 3 || st.Filters.AdminID != ann.String() {
		t.Errorf("export = %s; want ann's 3 rows and her id in canonical form", rec.Body)
	}
}

// TestIntegrationDownloadErrorsAreJSON: the errors http.ServeContent
// answers itself (416, 412) carry the API's JSON error like every other.
func TestIntegrationDownloadErrorsAreJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(authn.RoleAdmin)
	path := "/api/admin/exports/" + f.completed(tok) + "/download"
	tests := []struct {
		name         string
		header, val  string
		want         int
		contentRange bool
	}{
		{name: "range past the end", header: "Range", val: "bytes=999999-", want: http.StatusRequestedRangeNotSatisfiable, contentRange: true},
		{name: "if-match another version", header: "If-Match", val: `"another"`, want: http.StatusPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set(tt.header, tt.val)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if rec.Code != tt.want || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q; want %d JSON", rec.Code, rec.Header().Get("Content-Type"), tt.want)
			}
			if e := decode[web.Error](t, rec); e.Message == "" {
				t.Errorf("body %q has no error", rec.Body)
			}
			if rec.Header().Get("Content-Disposition") != "" {
				t.Error("an error answer announces a file")
			}
			if got := rec.Header().Get("Content-Range") != ""; got != tt.contentRange {
				t.Errorf("Content-Range %q", rec.Header().Get("Content-Range"))
			}
		})
	}
}

// TestIntegrationDownloadBrokenMidway: a file that cannot be read to its
// end (a chunk lost from the bucket) aborts the transfer: the client sees
// an error, never a clean end of a short file, and no trailers are sent.
func TestIntegrationDownloadBrokenMidway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	tok := f.token(authn.RoleAdmin)
	id := f.completed(tok)
	x, err := f.st.Get(ctx, uuid.MustParse(id))
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the export's file in 1 KiB chunks and lose the last one.
	nc, js, err := stream.Connect(f.natsURL, t.Name(), dbtest.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	small, err := objstore.New(js, objstore.Config{Bucket: stream.ExportFiles(1, 0).Name, ChunkSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("a,b,c\n"), 2000)
	if _, err := small.Put(ctx, x.File, export.ContentType, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	obs, err := js.ObjectStore(ctx, stream.ExportFiles(1, 0).Name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := obs.GetInfo(ctx, x.File)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(ctx, "OBJ_"+stream.ExportFiles(1, 0).Name)
	if err != nil {
		t.Fatal(err)
	}
	last, err := str.GetLastMsgForSubject(ctx, "$O."+stream.ExportFiles(1, 0).Name+".C."+info.NUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := str.DeleteMsg(ctx, last.Sequence); err != nil {
		t.Fatal(err)
	}

	// Both protocols: HTTP/1.1 must lose the connection, HTTP/2 the stream.
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			srv := httptest.NewUnstartedServer(f.h)
			srv.EnableHTTP2 = h2
			srv.StartTLS()
			t.Cleanup(srv.Close)
			client := &http.Client{Transport: f.val.Transport(srv.Client().Transport)}
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/admin/exports/"+id+"/download", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if h2 != (resp.ProtoMajor == 2) {
				t.Fatalf("served over %s", resp.Proto)
			}
			body, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || err == nil {
				t.Fatalf("download = %d, %d of %d bytes, read error %v; want 200 and a broken transfer", resp.StatusCode, len(body), len(content), err)
			}
			if len(resp.Trailer) != 0 || resp.Header.Get("Trailer") != "" {
				t.Errorf("trailers %v sent", resp.Trailer)
			}
		})
	}
}

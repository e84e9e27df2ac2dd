package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

// streamBytes reads how many bytes the bucket's stream holds.
func streamBytes(t *testing.T, url, bucket string) uint64 {
	t.Helper()
	nc, js, err := stream.Connect(url, t.Name()+"-state", slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s, err := js.Stream(context.Background(), "OBJ_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Bytes
}

// content is n bytes that differ from chunk to chunk.
func content(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i*7 + i/1000)
	}
	return out
}

func readAll(t *testing.T, b *objstore.Bucket, name string) ([]byte, objstore.Info) {
	t.Helper()
	o, err := b.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer o.Close()
	got, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return got, o.Info
}

// TestIntegrationPutOpenDelete stores objects of sizes around the chunk
// size, reads them back with their type and digest, replaces and deletes
// them.
func TestIntegrationPutOpenDelete(t *testing.T) {
	t.Parallel()
	b, _ := objstoretest.Start(t, stream.BucketSpec{Name: "ROUNDTRIP", MaxBytes: 64 << 20})
	ctx := context.Background()
	tests := []struct {
		name string
		size int
	}{
		{name: "empty", size: 0},
		{name: "small", size: 100},
		{name: "one-chunk", size: objstore.DefaultChunkSize},
		{name: "chunks-and-a-bit", size: 3*objstore.DefaultChunkSize + 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := content(tt.size)
			// A reader that hands out a few bytes at a time, as a pipe does.
			n, err := b.Put(ctx, tt.name, "text/csv", &trickle{r: bytes.NewReader(want), step: 1000})
			if err != nil || n != int64(tt.size) {
				t.Fatalf("Put = %d, %v; want %d", n, err, tt.size)
			}
			got, info := readAll(t, b, tt.name)
			sum := sha256.Sum256(want)
			digest := base64.URLEncoding.EncodeToString(sum[:])
			if !bytes.Equal(got, want) || info.Size != int64(tt.size) || info.ContentType != "text/csv" ||
				info.ModTime.IsZero() || info.Digest != "SHA-256="+digest || info.ETag() != `"`+digest+`"` {
				t.Fatalf("read back %d bytes (equal %v), info %+v", len(got), bytes.Equal(got, want), info)
			}
			st, err := b.Stat(ctx, tt.name)
			if err != nil || st.Digest != info.Digest || st.Size != info.Size {
				t.Fatalf("Stat = %+v, %v; Open said %+v", st, err, info)
			}
			// Replaced whole: the reader sees the new content only.
			if _, err := b.Put(ctx, tt.name, "text/plain", strings.NewReader("replaced")); err != nil {
				t.Fatal(err)
			}
			if got, info := readAll(t, b, tt.name); string(got) != "replaced" || info.ContentType != "text/plain" {
				t.Fatalf("after replacing: %q, %+v", got, info)
			}
			if err := b.Delete(ctx, tt.name); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Open(ctx, tt.name); !errors.Is(err, objstore.ErrNotFound) {
				t.Fatalf("Open after Delete = %v, want ErrNotFound", err)
			}
			if err := b.Delete(ctx, tt.name); err != nil {
				t.Fatalf("deleting again = %v, want nil", err)
			}
		})
	}
	left, err := b.List(ctx)
	if err != nil || len(left) != 0 {
		t.Fatalf("List after deleting everything = %v, %v", left, err)
	}
}

// TestIntegrationReplacedAndDeletedChunksAreFreed: replacing or deleting
// an object gives its bytes back to the bucket (MaxBytes is a budget).
func TestIntegrationReplacedAndDeletedChunksAreFreed(t *testing.T) {
	t.Parallel()
	b, srv := objstoretest.Start(t, stream.BucketSpec{Name: "FREED", MaxBytes: 64 << 20})
	ctx := context.Background()
	used := func() uint64 { return streamBytes(t, srv.URL(), "FREED") }
	for range 3 {
		if _, err := b.Put(ctx, "img", "image/png", bytes.NewReader(content(1<<20))); err != nil {
			t.Fatal(err)
		}
	}
	if u := used(); u > 1<<20+64<<10 {
		t.Fatalf("three puts of one 1 MiB name hold %d bytes; the replaced ones were not purged", u)
	}
	if err := b.Delete(ctx, "img"); err != nil {
		t.Fatal(err)
	}
	if u := used(); u > 64<<10 {
		t.Fatalf("a deleted object still holds %d bytes", u)
	}
}

// TestIntegrationAnotherReplicaReads: what one connection (replica) put,
// another opens and serves over HTTP with length, type and validators.
func TestIntegrationAnotherReplicaReads(t *testing.T) {
	t.Parallel()
	writer, srv := objstoretest.Start(t, stream.BucketSpec{Name: "SHARED", MaxBytes: 64 << 20})
	reader := objstoretest.Replica(t, srv.URL(), "SHARED")
	ctx := context.Background()
	want := content(700 << 10)
	if _, err := writer.Put(ctx, "report.csv", "text/csv; charset=utf-8", bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := reader.Open(r.Context(), "report.csv")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer o.Close()
		objstore.Serve(w, r, o)
	}))
	t.Cleanup(web.Close)

	res, err := http.Get(web.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || !bytes.Equal(got, want) || res.ContentLength != int64(len(want)) ||
		res.Header.Get("Content-Type") != "text/csv; charset=utf-8" || res.Header.Get("Etag") == "" || res.Header.Get("Last-Modified") == "" {
		t.Fatalf("GET: %d, %d bytes (equal %v), header %v, err %v", res.StatusCode, len(got), bytes.Equal(got, want), res.Header, err)
	}

	tests := []struct {
		name       string
		header     [2]string
		wantStatus int
		wantBody   []byte
	}{
		{name: "same etag", header: [2]string{"If-None-Match", res.Header.Get("Etag")}, wantStatus: 304},
		{name: "other etag", header: [2]string{"If-None-Match", `"other"`}, wantStatus: 200, wantBody: want},
		{name: "range", header: [2]string{"Range", "bytes=300000-300009"}, wantStatus: 206, wantBody: want[300000:300010]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", web.URL, nil)
			req.Header.Set(tt.header[0], tt.header[1])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != tt.wantStatus || !bytes.Equal(body, tt.wantBody) {
				t.Fatalf("%d with %d bytes (%v), want %d with %d", res.StatusCode, len(body), err, tt.wantStatus, len(tt.wantBody))
			}
		})
	}
}

// TestIntegrationHostileNamesRefused: names a service would never make
// are refused by every operation before they reach the store.
func TestIntegrationHostileNamesRefused(t *testing.T) {
	t.Parallel()
	b, _ := objstoretest.Start(t, stream.BucketSpec{Name: "HOSTILE", MaxBytes: 1 << 20})
	ctx := context.Background()
	for _, name := range []string{"", "../x", "..", ".hidden", "a/b", `a\b`, "/etc/passwd", "a b", "a\x00b",
		"a\nb", "%2e%2e", "caf\u00e9", strings.Repeat("a", 201), "*", ">", "a.>"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if _, err := b.Put(ctx, name, "", strings.NewReader("x")); !errors.Is(err, objstore.ErrBadName) {
				t.Errorf("Put = %v, want ErrBadName", err)
			}
			if _, err := b.Write(ctx, name, "", func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }); !errors.Is(err, objstore.ErrBadName) {
				t.Errorf("Write = %v, want ErrBadName", err)
			}
			if _, err := b.Open(ctx, name); !errors.Is(err, objstore.ErrBadName) {
				t.Errorf("Open = %v, want ErrBadName", err)
			}
			if _, err := b.Stat(ctx, name); !errors.Is(err, objstore.ErrBadName) {
				t.Errorf("Stat = %v, want ErrBadName", err)
			}
			if err := b.Delete(ctx, name); !errors.Is(err, objstore.ErrBadName) {
				t.Errorf("Delete = %v, want ErrBadName", err)
			}
		})
	}
	if all, err := b.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("bucket holds %v (%v) after refused names", all, err)
	}
}

// TestIntegrationFailedWriteLeavesNothing: a writer that fails half-way,
// or a put whose context ends, leaves no object and no chunks.
func TestIntegrationFailedWriteLeavesNothing(t *testing.T) {
	t.Parallel()
	b, srv := objstoretest.Start(t, stream.BucketSpec{Name: "FAILED", MaxBytes: 64 << 20})
	ctx := context.Background()
	boom := errors.New("database went away")
	_, err := b.Write(ctx, "half.csv", "text/csv", func(w io.Writer) error {
		if _, err := w.Write(content(1 << 20)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want the writer's error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	_, err = b.Write(cctx, "cancelled.csv", "text/csv", func(w io.Writer) error {
		if _, err := w.Write(content(512 << 10)); err != nil {
			return err
		}
		cancel()
		_, err := w.Write(content(512 << 10))
		return err
	})
	if err == nil {
		t.Fatal("Write under a cancelled context succeeded")
	}
	for _, name := range []string{"half.csv", "cancelled.csv"} {
		if _, err := b.Stat(ctx, name); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Stat %s = %v, want ErrNotFound", name, err)
		}
	}
	testkit.Eventually(t, "the failed writes' chunks purged", func() bool { return streamBytes(t, srv.URL(), "FAILED") == 0 })
}

// TestIntegrationObjectsExpire: a bucket's TTL removes objects nobody
// deleted (the backstop for what a crash left behind).
func TestIntegrationObjectsExpire(t *testing.T) {
	t.Parallel()
	b, _ := objstoretest.Start(t, stream.BucketSpec{Name: "EXPIRING", TTL: time.Second, MaxBytes: 1 << 20})
	ctx := context.Background()
	if _, err := b.Put(ctx, "left-behind.csv", "text/csv", strings.NewReader("a,b\n")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the object expired", func() bool {
		_, err := b.Stat(ctx, "left-behind.csv")
		return errors.Is(err, objstore.ErrNotFound)
	})
}

// TestIntegrationOutageIsUnavailable: with NATS down an operation fails
// as ErrUnavailable, which is also a net.Error (503 at the HTTP edge).
func TestIntegrationOutageIsUnavailable(t *testing.T) {
	t.Parallel()
	b, srv := objstoretest.Start(t, stream.BucketSpec{Name: "OUTAGE", MaxBytes: 1 << 20})
	ctx := context.Background()
	if _, err := b.Put(ctx, "x", "", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := b.Stat(tctx, "x")
	var ne net.Error
	if !errors.Is(err, objstore.ErrUnavailable) || !errors.As(err, &ne) {
		t.Fatalf("Stat while NATS is down = %v, want ErrUnavailable and a net.Error", err)
	}

	missing := objstoretest.Replica(t, natstest.Start(t).URL(), "NEVERDECLARED")
	if _, err := missing.Put(ctx, "x", "", strings.NewReader("x")); !errors.Is(err, objstore.ErrUnavailable) {
		t.Fatalf("Put into an undeclared bucket = %v, want ErrUnavailable", err)
	}
}

// trickle hands out at most step bytes per Read.
type trickle struct {
	r    io.Reader
	step int
}

func (t *trickle) Read(p []byte) (int, error) {
	return t.r.Read(p[:min(len(p), t.step)])
}

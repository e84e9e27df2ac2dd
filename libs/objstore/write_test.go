package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/acube/platform/libs/natstest"
	"github.com/acube/platform/libs/objstore"
	"github.com/acube/platform/libs/objstore/objstoretest"
	"github.com/acube/platform/libs/stream"
	"github.com/acube/platform/libs/testkit"
)

// open returns a Bucket with cfg over the server at url, and the raw
// JetStream handle of its connection, for nats.go's own ObjectStore.
func open(t *testing.T, url string, cfg objstore.Config) (*objstore.Bucket, jetstream.JetStream) {
	t.Helper()
	nc, js, err := stream.Connect(url, t.Name(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b, err := objstore.New(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b, js
}

// TestIntegrationStandardLayout: what Write stores, nats.go's ObjectStore
// (and so the nats CLI) reads, digest checked, with the chunk size and
// count recorded; and what nats.go's Put stores (128 KiB chunks), Open
// reads.
func TestIntegrationStandardLayout(t *testing.T) {
	t.Parallel()
	_, srv := objstoretest.Start(t, stream.BucketSpec{Name: "LAYOUT", MaxBytes: 64 << 20})
	b, js := open(t, srv.URL(), objstore.Config{Bucket: "LAYOUT", ChunkSize: 64 << 10, Window: 2})
	ctx := context.Background()
	obs, err := js.ObjectStore(ctx, "LAYOUT")
	if err != nil {
		t.Fatal(err)
	}
	want := content(5*(64<<10)/2 + 3) // two and a half chunks
	if _, err := b.Write(ctx, "ours.csv", "text/csv", func(w io.Writer) error {
		for rest := want; len(rest) > 0; rest = rest[min(len(rest), 1000):] {
			if _, err := w.Write(rest[:min(len(rest), 1000)]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := obs.GetBytes(ctx, "ours.csv") // nats.go checks the digest
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("nats.go read %d bytes (equal %v), %v", len(got), bytes.Equal(got, want), err)
	}
	info, err := obs.GetInfo(ctx, "ours.csv")
	sum := sha256.Sum256(want)
	if err != nil || info.Chunks != 3 || info.Opts == nil || info.Opts.ChunkSize != 64<<10 || info.Size != uint64(len(want)) ||
		info.Digest != "SHA-256="+base64.URLEncoding.EncodeToString(sum[:]) || info.Headers.Get("Content-Type") != "text/csv" {
		t.Fatalf("nats.go's info of our object: %+v, %v", info, err)
	}

	theirs := content(3*(128<<10) + 5)
	if _, err := obs.PutBytes(ctx, "theirs.csv", theirs); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, b, "theirs.csv"); !bytes.Equal(got, theirs) {
		t.Fatalf("Open read %d bytes of nats.go's %d", len(got), len(theirs))
	}
}

// TestIntegrationChunksFitMaxPayload: against a server whose max_payload
// is below ChunkSize, chunks are cut to max_payload and the put succeeds.
func TestIntegrationChunksFitMaxPayload(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.WithConfig("max_payload: 65536"))
	objstoretest.Declare(t, srv.URL(), stream.BucketSpec{Name: "SMALLPAYLOAD", MaxBytes: 8 << 20})
	b, js := open(t, srv.URL(), objstore.Config{Bucket: "SMALLPAYLOAD"})
	ctx := context.Background()
	want := content(200 << 10)
	if _, err := b.Put(ctx, "x", "", bytes.NewReader(want)); err != nil {
		t.Fatalf("Put under a 64 KiB max_payload: %v", err)
	}
	obs, err := js.ObjectStore(ctx, "SMALLPAYLOAD")
	if err != nil {
		t.Fatal(err)
	}
	info, err := obs.GetInfo(ctx, "x")
	if err != nil || info.Opts == nil || info.Opts.ChunkSize != 65536 || info.Chunks != 4 {
		t.Fatalf("info %+v, %v; want 4 chunks of 64 KiB", info, err)
	}
	if got, _ := readAll(t, b, "x"); !bytes.Equal(got, want) {
		t.Fatal("read back differs")
	}
}

// TestIntegrationStoreRefusalStopsTheWriter: when the store refuses a
// chunk (the bucket is full), the writer's next Write returns the error,
// Write fails, and neither the object nor its chunks remain.
func TestIntegrationStoreRefusalStopsTheWriter(t *testing.T) {
	t.Parallel()
	_, srv := objstoretest.Start(t, stream.BucketSpec{Name: "FULL", MaxBytes: 1 << 20})
	b, _ := open(t, srv.URL(), objstore.Config{Bucket: "FULL", ChunkSize: 64 << 10, Window: 2})
	ctx := context.Background()
	var written int
	var writeErr error
	_, err := b.Write(ctx, "big.csv", "text/csv", func(w io.Writer) error {
		for written < 64<<20 { // far more than the bucket holds
			n, err := w.Write(content(16 << 10))
			written += n
			if err != nil {
				writeErr = err
				return err
			}
		}
		return nil
	})
	if err == nil || writeErr == nil || written >= 64<<20 {
		t.Fatalf("Write = %v after %d bytes, the writer's error %v; want both to fail early", err, written, writeErr)
	}
	if _, err := b.Stat(ctx, "big.csv"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Stat = %v, want ErrNotFound", err)
	}
	testkit.Eventually(t, "the refused put's chunks purged", func() bool { return streamBytes(t, srv.URL(), "FULL") == 0 })
}

package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// TestBuckets checks what every bucket of the platform must state.
func TestBuckets(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range Buckets(3) {
		if seen[b.Name] {
			t.Errorf("bucket %s is listed twice", b.Name)
		}
		seen[b.Name] = true
		if _, err := b.config(); err != nil {
			t.Error(err)
		}
		if b.Replicas != 3 || b.AllowShrink {
			t.Errorf("%s: replicas %d, allow shrink %v; want the owner's plain spec at 3", b.Name, b.Replicas, b.AllowShrink)
		}
	}
	if ttl := ExportFiles(1, time.Hour).TTL; ttl <= time.Hour {
		t.Errorf("export files expire after %v, before their one-hour download window", ttl)
	}
}

// TestIntegrationEnsureBucketNeverNarrowsSilently declares a bucket, then
// a narrower spec: EnsureBucket refuses it naming the field and the bucket
// keeps its limits, unless the spec allows the shrink. Wider specs apply.
func TestIntegrationEnsureBucketNeverNarrowsSilently(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		first     time.Duration // the first declaration's TTL
		compress  bool          // whether the first declaration compresses
		change    func(b *BucketSpec)
		wantField string // named in the refusal; "" when the change applies
		want      func(jetstream.StreamConfig) bool
	}{
		{name: "shorter ttl", first: time.Hour, change: func(b *BucketSpec) { b.TTL = time.Minute }, wantField: "ttl"},
		{name: "ttl on a bucket kept for ever", change: func(b *BucketSpec) { b.TTL = time.Hour }, wantField: "ttl"},
		{name: "lower max bytes", first: time.Hour, change: func(b *BucketSpec) { b.MaxBytes = 1 << 19 }, wantField: "max_bytes"},
		{name: "other replica count", first: time.Hour, change: func(b *BucketSpec) { b.Replicas = 3 }, wantField: "num_replicas"},
		{name: "wider limits apply", first: time.Hour, change: func(b *BucketSpec) { b.TTL, b.MaxBytes = 2*time.Hour, 1<<21 },
			want: func(c jetstream.StreamConfig) bool { return c.MaxAge == 2*time.Hour && c.MaxBytes == 1<<21 }},
		{name: "kept for ever applies", first: time.Hour, change: func(b *BucketSpec) { b.TTL = 0 },
			want: func(c jetstream.StreamConfig) bool { return c.MaxAge == 0 }},
		{name: "compression applies", first: time.Hour, change: func(b *BucketSpec) { b.Compression = true },
			want: func(c jetstream.StreamConfig) bool { return c.Compression == jetstream.S2Compression }},
		{name: "no compression applies", first: time.Hour, compress: true, change: func(b *BucketSpec) { b.Compression = false },
			want: func(c jetstream.StreamConfig) bool { return c.Compression == jetstream.NoCompression }},
		{name: "allowed shrink applies", first: time.Hour, change: func(b *BucketSpec) { b.TTL, b.AllowShrink = time.Minute, true },
			want: func(c jetstream.StreamConfig) bool { return c.MaxAge == time.Minute }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := BucketSpec{Name: fmt.Sprintf("NARROWB%d", i), TTL: tt.first, MaxBytes: 1 << 20, Replicas: 1, Compression: tt.compress}
			if err := EnsureBucket(ctx, js, spec); err != nil {
				t.Fatalf("first declaration: %v", err)
			}
			if err := EnsureBucket(ctx, js, spec); err != nil {
				t.Fatalf("the same declaration again: %v", err)
			}
			before := config(t, js, spec.stream())
			next := spec
			tt.change(&next)
			err := EnsureBucket(ctx, js, next)
			after := config(t, js, spec.stream())
			if tt.wantField != "" {
				if !errors.Is(err, ErrNarrowing) || !strings.Contains(err.Error(), tt.wantField) {
					t.Fatalf("EnsureBucket = %v, want ErrNarrowing naming %s", err, tt.wantField)
				}
				if after.MaxAge != before.MaxAge || after.MaxBytes != before.MaxBytes || after.Replicas != before.Replicas {
					t.Fatalf("refused declaration changed the bucket: %+v -> %+v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureBucket = %v", err)
			}
			if !tt.want(after) {
				t.Fatalf("bucket config after the change: %+v", after)
			}
		})
	}
}

// TestIntegrationCompressionSavesNoBudget: a compressed bucket counts
// what it holds uncompressed against MaxBytes, so compression saves disk
// below the reservation, never room in the bucket: 1.5 MiB of text that
// S2 shrinks many times is still refused by a 1 MiB bucket.
func TestIntegrationCompressionSavesNoBudget(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := context.Background()
	spec := BucketSpec{Name: "COMPRESSEDB", MaxBytes: 1 << 20, Compression: true}
	if err := EnsureBucket(ctx, js, spec); err != nil {
		t.Fatal(err)
	}
	obs, err := js.ObjectStore(ctx, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	text := []byte(strings.Repeat("2025-01-01T00:00:00Z,admin@example.org,update,session\n", 30_000)) // ~1.5 MiB
	if _, err := obs.PutBytes(ctx, "a.csv", text); err == nil {
		t.Fatalf("a compressed 1 MiB bucket took %d bytes of text", len(text))
	}
	if _, err := obs.PutBytes(ctx, "b.csv", text[:len(text)/3]); err != nil {
		t.Fatalf("a third of it, under MaxBytes: %v", err)
	}
}

// TestIntegrationDeclarerDeclaresBuckets: a declarer given buckets
// declares them with its streams, and is done only when both exist.
func TestIntegrationDeclarerDeclaresBuckets(t *testing.T) {
	t.Parallel()
	js := connect(t)
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	bucket := BucketSpec{Name: "DECLAREDB", TTL: time.Hour, MaxBytes: 1 << 20}
	d, err := NewDeclarer(js.Conn(), js, prometheus.NewRegistry(), log, DeclarerConfig{
		Specs:   []Spec{{Name: "DECLAREDS", Subjects: []string{"declareds.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20}},
		Buckets: []BucketSpec{bucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if err := d.Streams(ctx); err != nil {
		t.Fatalf("Streams = %v after Run", err)
	}
	obs, err := js.ObjectStore(ctx, bucket.Name)
	if err != nil {
		t.Fatalf("bucket after declaration: %v", err)
	}
	if _, err := obs.PutString(ctx, "hello", "world"); err != nil {
		t.Fatalf("put into the declared bucket: %v", err)
	}

	bad := BucketSpec{Name: "", MaxBytes: 1}
	if _, err := NewDeclarer(js.Conn(), js, prometheus.NewRegistry(), log, DeclarerConfig{
		Specs: []Spec{{Name: "X", Subjects: []string{"x"}, MaxAge: time.Hour, MaxBytes: 1}}, Buckets: []BucketSpec{bad},
	}); err == nil {
		t.Error("NewDeclarer accepted a bucket without a name")
	}
}

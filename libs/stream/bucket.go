package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketSpec describes a JetStream Object Store bucket: files every
// replica of a service reads and writes (export files, event images), kept
// on the NATS cluster instead of a ReadWriteMany volume. A bucket is a
// stream (OBJ_<Name>) underneath, so it states its limits like a stream
// and counts against the same file store (TestCatalogFitsFileStore).
type BucketSpec struct {
	// Name of the bucket, e.g. EXPORTS; its stream is OBJ_<Name>.
	Name string
	// Description says what the bucket holds, for `nats object ls`.
	Description string
	// TTL bounds how long an object is kept after it is written; 0 keeps
	// objects until they are deleted (event images live as long as their
	// event). The owner deletes what it no longer needs; the TTL is the
	// backstop for what a crash left behind.
	TTL time.Duration
	// MaxBytes bounds the bucket's size on disk; a full bucket refuses a
	// put, as a full stream refuses a publish. Every node reserves it whole
	// for each replica it holds, like a stream's.
	MaxBytes int64
	// Replicas is 1 locally and 3 on the production cluster.
	Replicas int
	// Compression has the server S2-compress the bucket's blocks on disk.
	// It saves disk only: max_bytes, and so what the file store reserves,
	// counts the objects uncompressed (TestIntegrationCompressionSavesNoBudget),
	// and the server compresses a block once it is full by reading it
	// back, compressing it and writing and syncing it again, on the CPUs
	// of the writer.
	Compression bool
	// AllowShrink lets EnsureBucket apply a shorter TTL, a lower MaxBytes
	// or another replica count to an existing bucket (see Spec.AllowShrink).
	AllowShrink bool
}

// The platform's buckets. Each has one owner, which declares it through
// its Declarer (DeclarerConfig.Buckets).

// exportGrace is how much longer than an export's download window its
// file may stay in the bucket: a file's chunks are written while the
// export runs, before its expiry is counted from the end of the run, and
// the exporter's purger deletes expired files itself.
const exportGrace = 24 * time.Hour

// DefaultExportTTL is the exporter's default EXPORT_TTL, for the catalog.
const DefaultExportTTL = 7 * 24 * time.Hour

// ExportFiles holds the exporter's finished audit exports. downloadFor is
// EXPORT_TTL; objects expire a day after it, whatever the purger does.
// The files are stored uncompressed: S2 would shrink the CSV several times
// on disk but not in max_bytes, and compressing cost the server 0.6 to
// 0.8 s of CPU per million rows, on the cores the export runs on
// (docs/benchmarks-export.md).
func ExportFiles(replicas int, downloadFor time.Duration) BucketSpec {
	return BucketSpec{Name: "EXPORTS", Description: "audit export files (exporter)", TTL: downloadFor + exportGrace,
		MaxBytes: 4 << 30, Replicas: replicas}
}

// EventImages holds booking's event cover images, one per event, for as
// long as the event exists (at most BOOKING_IMAGE_MAX_BYTES each).
func EventImages(replicas int) BucketSpec {
	return BucketSpec{Name: "IMAGES", Description: "event cover images (booking)", MaxBytes: 1 << 30, Replicas: replicas}
}

// Buckets lists every bucket of the platform with its default settings,
// for the storage check.
func Buckets(replicas int) []BucketSpec {
	return []BucketSpec{ExportFiles(replicas, DefaultExportTTL), EventImages(replicas)}
}

// stream is the name of the bucket's stream.
func (b BucketSpec) stream() string { return "OBJ_" + b.Name }

// Usage is the bucket's stream as a Spec, for NewUsage: how full the
// bucket is shows as jetstream_stream_bytes{stream="OBJ_<Name>"}.
func (b BucketSpec) Usage() Spec {
	return Spec{Name: b.stream(), MaxAge: b.TTL, MaxBytes: b.MaxBytes, Replicas: b.Replicas}
}

// config is the Object Store configuration spec asks for.
func (b BucketSpec) config() (jetstream.ObjectStoreConfig, error) {
	if b.Name == "" || b.MaxBytes <= 0 || b.TTL < 0 {
		return jetstream.ObjectStoreConfig{}, fmt.Errorf("bucket %q: a name and max bytes must be set, and the TTL not negative", b.Name)
	}
	return jetstream.ObjectStoreConfig{
		Bucket: b.Name, Description: b.Description, TTL: b.TTL, MaxBytes: b.MaxBytes,
		Storage: jetstream.FileStorage, Replicas: max(b.Replicas, 1), Compression: b.Compression,
	}, nil
}

// EnsureBucket creates the bucket when it is missing and otherwise updates
// it to spec as long as that only widens it, like Ensure does for a stream:
// a shorter TTL, a lower MaxBytes or another replica count is refused with
// an error wrapping ErrNarrowing unless spec.AllowShrink.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, spec BucketSpec) error {
	cfg, err := spec.config()
	if err != nil {
		return err
	}
	s, err := js.Stream(ctx, spec.stream())
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		_, err = js.CreateObjectStore(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another replica created it meanwhile: compare with it.
			return EnsureBucket(ctx, js, spec)
		}
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", spec.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("look up bucket %s: %w", spec.Name, err)
	}
	have := s.CachedInfo().Config
	if !spec.AllowShrink {
		if narrow := bucketNarrowing(have, cfg); len(narrow) > 0 {
			return fmt.Errorf("declare bucket %s: %w: %s (set AllowShrink to apply)",
				spec.Name, ErrNarrowing, strings.Join(narrow, "; "))
		}
	}
	if have.MaxAge == cfg.TTL && have.MaxBytes == cfg.MaxBytes && have.Replicas == cfg.Replicas &&
		(have.Compression != jetstream.NoCompression) == cfg.Compression && have.Description == cfg.Description {
		return nil
	}
	if _, err := js.UpdateObjectStore(ctx, cfg); err != nil {
		return fmt.Errorf("update bucket %s: %w", spec.Name, err)
	}
	return nil
}

// bucketNarrowing lists what want would take away from a bucket whose
// stream is configured as have. A zero TTL keeps objects for ever, a
// negative max bytes is unlimited.
func bucketNarrowing(have jetstream.StreamConfig, want jetstream.ObjectStoreConfig) []string {
	var out []string
	if want.TTL != 0 && (have.MaxAge == 0 || want.TTL < have.MaxAge) {
		out = append(out, fmt.Sprintf("ttl %v is below the bucket's %v (0 is for ever)", want.TTL, have.MaxAge))
	}
	if have.MaxBytes <= 0 || want.MaxBytes < have.MaxBytes {
		out = append(out, fmt.Sprintf("max_bytes %d is below the bucket's %d", want.MaxBytes, have.MaxBytes))
	}
	if want.Replicas != max(have.Replicas, 1) {
		out = append(out, fmt.Sprintf("num_replicas %d differs from the bucket's %d", want.Replicas, have.Replicas))
	}
	return out
}

// EnsureBuckets declares each bucket in turn (see EnsureBucket).
func EnsureBuckets(ctx context.Context, js jetstream.JetStream, specs ...BucketSpec) error {
	for _, spec := range specs {
		if err := EnsureBucket(ctx, js, spec); err != nil {
			return err
		}
	}
	return nil
}

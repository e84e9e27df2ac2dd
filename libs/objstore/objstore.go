// Package objstore keeps the files every replica of a service must reach —
// export files, event images — in a JetStream Object Store bucket, so a
// file one replica wrote is served by any other without a ReadWriteMany
// volume. Objects stream both ways: a put stores its content chunk by
// chunk while the next chunks are produced, and a reader hands chunks on
// as they arrive, so neither side holds a whole file in memory.
//
// The bucket itself is declared by its owner with the service's streams
// (stream.BucketSpec, stream.DeclarerConfig.Buckets).
package objstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors a Bucket returns; test them with errors.Is.
var (
	// ErrNotFound: no object of that name.
	ErrNotFound = errors.New("object not found")
	// ErrBadName: a name this package refuses (see ValidName).
	ErrBadName = errors.New("invalid object name")
	// ErrUnavailable: the bucket could not be reached (NATS down or slow,
	// the bucket not declared yet). Errors marked so also satisfy
	// net.Error, so web.WriteError answers them 503 with Retry-After.
	ErrUnavailable = errors.New("object store unavailable")
)

// Config names a bucket, sizes the chunks objects are written in and
// bounds how long one object is read. Zero values take the defaults in
// brackets.
type Config struct {
	// Bucket is the bucket's name, e.g. EXPORTS.
	Bucket string
	// ReadTimeout bounds reading one object from Open to its last byte
	// [5m, the HTTP server's write timeout]. Without it a reader would
	// get JetStream's default request timeout of 5 s, too short for a
	// large export on a slow connection.
	ReadTimeout time.Duration
	// ChunkSize is the size of the chunks a put stores [512 KiB], lowered
	// to the server's max_payload when that is smaller. Four times
	// nats.go's 128 KiB: a 300 MB export is 560 messages and
	// acknowledgements, not 2,250. Against 256 KiB, 512 KiB took 4% less
	// CPU in the client and 12% less in the server; 1 MiB (the default
	// max_payload) was no faster, and a reader, which receives each chunk
	// in a new buffer, peaked higher with it (docs/benchmarks-export.md).
	// Readers take chunks of any size.
	ChunkSize int
	// Window is how many chunks of one put may be written and not yet
	// stored [4]: the writer fills the next while these are sent and
	// acknowledged, and a put holds at most Window × ChunkSize in memory.
	Window int
	// AckWait bounds the wait for the store to acknowledge a chunk, and
	// for the object's info to be stored [30s].
	AckWait time.Duration
}

// DefaultChunkSize is Config.ChunkSize's default.
const DefaultChunkSize = 512 << 10

func (c *Config) setDefaults() {
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 5 * time.Minute
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.Window <= 0 {
		c.Window = 4
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
}

// Bucket reads and writes the objects of one bucket.
type Bucket struct {
	js  jetstream.JetStream
	cfg Config

	mu  sync.Mutex
	obs jetstream.ObjectStore // bound on first use
	str jetstream.Stream      // the bucket's stream, for reading chunks
}

// New returns a Bucket; it binds to the bucket on first use, so a service
// starts while NATS is down or before its declarer has created the bucket.
func New(js jetstream.JetStream, cfg Config) (*Bucket, error) {
	cfg.setDefaults()
	if cfg.Bucket == "" {
		return nil, errors.New("objstore: a bucket name is required")
	}
	return &Bucket{js: js, cfg: cfg}, nil
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.cfg.Bucket }

// bucket binds to the bucket once and keeps the handle.
func (b *Bucket) bucket(ctx context.Context) (jetstream.ObjectStore, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.obs != nil {
		return b.obs, nil
	}
	obs, err := b.js.ObjectStore(ctx, b.cfg.Bucket)
	if err != nil {
		return nil, err
	}
	b.obs = obs
	return obs, nil
}

// stream binds to the bucket's stream once and keeps the handle.
func (b *Bucket) stream(ctx context.Context) (jetstream.Stream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.str != nil {
		return b.str, nil
	}
	str, err := b.js.Stream(ctx, "OBJ_"+b.cfg.Bucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = jetstream.ErrBucketNotFound
	}
	if err != nil {
		return nil, err
	}
	b.str = str
	return str, nil
}

// ValidName reports whether name may name an object: 1 to 200 letters,
// digits, '.', '-' or '_', not starting with '.'. Object names never reach
// a file system here, but a name a service would not make (a path, "..",
// a control character) is refused rather than trusted.
func ValidName(name string) error {
	if name == "" || len(name) > 200 || name[0] == '.' {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for i := range len(name) {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}

// Info describes a stored object.
type Info struct {
	Name string
	// Size in bytes.
	Size int64
	// ModTime is when the object was stored (the server's clock).
	ModTime time.Time
	// Digest is the SHA-256 of the content as JetStream records it,
	// "SHA-256=<base64url>".
	Digest string
	// ContentType is the media type given when the object was stored.
	ContentType string
}

// ETag is a strong HTTP entity tag for the object: its digest.
func (i Info) ETag() string {
	return `"` + strings.TrimPrefix(i.Digest, "SHA-256=") + `"`
}

func infoOf(o *jetstream.ObjectInfo) Info {
	return Info{Name: o.Name, Size: int64(o.Size), ModTime: o.ModTime, Digest: o.Digest,
		ContentType: o.Headers.Get("Content-Type")}
}

// Stat returns name's Info; ErrNotFound when there is none.
func (b *Bucket) Stat(ctx context.Context, name string) (Info, error) {
	if err := ValidName(name); err != nil {
		return Info{}, fmt.Errorf("stat object: %w", err)
	}
	obs, err := b.bucket(ctx)
	if err != nil {
		return Info{}, b.wrap("stat", name, err)
	}
	info, err := obs.GetInfo(ctx, name)
	if err != nil {
		return Info{}, b.wrap("stat", name, err)
	}
	return infoOf(info), nil
}

// Delete removes name; an object already gone is no error.
func (b *Bucket) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("delete object: %w", err)
	}
	obs, err := b.bucket(ctx)
	if err != nil {
		return b.wrap("delete", name, err)
	}
	if err := obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return b.wrap("delete", name, err)
	}
	return nil
}

// List returns every object in the bucket (not the deleted ones).
func (b *Bucket) List(ctx context.Context) ([]Info, error) {
	obs, err := b.bucket(ctx)
	if err != nil {
		return nil, b.wrap("list", "", err)
	}
	all, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, b.wrap("list", "", err)
	}
	out := make([]Info, 0, len(all))
	for _, o := range all {
		out = append(out, infoOf(o))
	}
	return out, nil
}

// wrap names the operation and marks an outage ErrUnavailable and a
// missing object ErrNotFound.
func (b *Bucket) wrap(op, name string, err error) error {
	what := fmt.Sprintf("%s object %q in bucket %s", op, name, b.cfg.Bucket)
	if name == "" {
		what = fmt.Sprintf("%s bucket %s", op, b.cfg.Bucket)
	}
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case unavailable(err):
		return &outage{err: fmt.Errorf("%s: %w", what, err)}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unavailable reports the failures that mean "NATS cannot be reached
// now", which a retry later may fix.
func unavailable(err error) bool {
	for _, e := range []error{
		nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrConnectionDraining,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected, jetstream.ErrBucketNotFound,
		jetstream.ErrJetStreamNotEnabled, jetstream.ErrNoStreamResponse, jetstream.ErrNoHeartbeat,
		jetstream.ErrServerShutdown, context.DeadlineExceeded,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// outage is an error marked ErrUnavailable; it is also a net.Error, which
// is how web.WriteError recognises a dependency that is down (503).
type outage struct{ err error }

func (o *outage) Error() string        { return o.err.Error() }
func (o *outage) Unwrap() error        { return o.err }
func (o *outage) Is(target error) bool { return target == ErrUnavailable }

// Timeout makes outage a net.Error: the store did not answer in time.
func (o *outage) Timeout() bool { return true }

// Temporary makes outage a net.Error: a retry later may succeed.
func (o *outage) Temporary() bool { return true }

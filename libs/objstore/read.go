package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Object is a stored object opened for reading. Its chunks are fetched
// one at a time as the reader asks for them (direct gets by subject: no
// consumer is created, and at most one chunk is in hand), and the content
// is checked against its digest at the end: a reader sees an error rather
// than a silently damaged file. Close it.
//
// Object is an io.ReadSeeker only as far as http.ServeContent needs:
// seeking records a position, and reading from it skips forward to it;
// going back to bytes already read is an error.
type Object struct {
	Info
	chunks *chunks
	cancel context.CancelFunc
	read   int64 // bytes taken from chunks
	pos    int64 // where the next Read starts
}

// Open returns name for reading, within the bucket's ReadTimeout from now
// (and until ctx ends); ErrNotFound when there is none.
func (b *Bucket) Open(ctx context.Context, name string) (*Object, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("open object: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ReadTimeout)
	obs, err := b.bucket(ctx)
	if err != nil {
		cancel()
		return nil, b.wrap("open", name, err)
	}
	info, err := obs.GetInfo(ctx, name)
	if err == nil && info.Opts != nil && info.Opts.Link != nil {
		err = errors.New("the object is a link, which this package never makes")
	}
	if err != nil {
		cancel()
		return nil, b.wrap("open", name, err)
	}
	str, err := b.stream(ctx)
	if err != nil {
		cancel()
		return nil, b.wrap("open", name, err)
	}
	digest, err := jetstream.DecodeObjectDigest(info.Digest)
	if err != nil && info.Size > 0 {
		cancel()
		return nil, b.wrap("open", name, err)
	}
	c := &chunks{ctx: ctx, b: b, name: name, stream: str, subject: "$O." + b.cfg.Bucket + ".C." + info.NUID,
		next: 1, left: info.Chunks, sum: sha256.New(), want: digest}
	return &Object{Info: infoOf(info), chunks: c, cancel: cancel}, nil
}

// chunks reads an object's chunks in order: each is the first message on
// the object's chunk subject ($O.<bucket>.C.<nuid>, the layout of NATS
// ADR-20 that every Object Store client shares) after the previous one.
type chunks struct {
	ctx     context.Context
	b       *Bucket
	name    string
	stream  jetstream.Stream
	subject string
	next    uint64 // stream sequence to look from
	left    uint32 // chunks still to fetch
	buf     []byte // the rest of the chunk in hand
	sum     hash.Hash
	want    []byte // the digest recorded at put
	err     error
}

func (c *chunks) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.left == 0 {
			if c.want != nil && !bytes.Equal(c.sum.Sum(nil), c.want) {
				c.err = c.b.wrap("read", c.name, jetstream.ErrDigestMismatch)
				return 0, c.err
			}
			return 0, io.EOF
		}
		if c.err = c.fetch(); c.err != nil {
			return 0, c.err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	if len(c.buf) == 0 {
		c.buf = nil // let the chunk go before the next is fetched
	}
	return n, nil
}

// fetch gets the next chunk. A replica of the stream that serves direct
// gets may lag the leader by a few messages just after a put, so a chunk
// not found yet is asked for again a few times before giving up.
func (c *chunks) fetch() error {
	wait := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		m, err := c.stream.GetMsg(c.ctx, c.next, jetstream.WithGetMsgSubject(c.subject))
		if err == nil {
			c.buf, c.next = m.Data, m.Sequence+1
			c.left--
			c.sum.Write(m.Data)
			return nil
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) || attempt == 5 {
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				// Replaced or deleted while being read.
				err = jetstream.ErrObjectNotFound
			}
			return c.b.wrap("read", c.name, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return c.b.wrap("read", c.name, c.ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

// Read reads the next bytes of the content.
func (o *Object) Read(p []byte) (int, error) {
	if o.pos < o.read {
		return 0, errors.New("objstore: cannot read backwards in an object")
	}
	if skip := o.pos - o.read; skip > 0 {
		n, err := io.CopyN(io.Discard, o.chunks, skip)
		o.read += n
		if err != nil {
			return 0, err
		}
	}
	n, err := o.chunks.Read(p)
	o.read += int64(n)
	o.pos = o.read
	return n, err
}

// Seek sets where the next Read starts (see Object).
func (o *Object) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.Size + offset
	default:
		return 0, errors.New("objstore: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("objstore: negative position")
	}
	o.pos = abs
	return abs, nil
}

// Close ends the read.
func (o *Object) Close() error {
	o.cancel()
	return nil
}

// Serve answers r with the object as http.ServeContent does — Content-Length,
// Last-Modified, an ETag from the digest, conditional requests (304),
// HEAD and single ranges — streaming the content from the store. The
// caller may set Content-Type first; otherwise the type the object was
// stored with is sent (ServeContent must not sniff: that would read and
// seek back).
func Serve(w http.ResponseWriter, r *http.Request, o *Object) {
	if w.Header().Get("Content-Type") == "" {
		ct := o.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
	}
	if w.Header().Get("Etag") == "" && o.Digest != "" {
		w.Header().Set("Etag", o.ETag())
	}
	http.ServeContent(w, r, "", o.ModTime, o)
}

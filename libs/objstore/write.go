package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Put stores what r yields as name, replacing any object of that name
// once the new one is complete (readers never see half an object; the
// old one's chunks are purged). r is read chunk by chunk while the chunks
// before are stored, so memory stays flat however long r is. It returns
// the size.
func (b *Bucket) Put(ctx context.Context, name, contentType string, r io.Reader) (int64, error) {
	return b.Write(ctx, name, contentType, func(w io.Writer) error {
		_, err := io.Copy(w, r) // r's WriteTo, or chunkWriter.ReadFrom straight into the chunks
		return err
	})
}

// Write stores as name what write writes, streaming: write runs in its
// own goroutine and fills chunks while the ones before are hashed, sent
// and acknowledged, so it never waits for the store unless Window chunks
// are already in flight. An error from write (or ctx ending) leaves no
// object behind; if the store fails first, write's next Write returns the
// store's error.
//
// The object is laid out as every Object Store client expects (NATS
// ADR-20: chunks on $O.<bucket>.C.<nuid>, then the info, with the
// SHA-256 digest, on $O.<bucket>.M.<name> as a subject rollup), so
// nats.go's ObjectStore and the nats CLI read what this writes. It is
// written here rather than by nats.go's Put to send bigger chunks, keep
// producing while they are stored and bound what is in flight.
func (b *Bucket) Write(ctx context.Context, name, contentType string, write func(io.Writer) error) (int64, error) {
	if err := ValidName(name); err != nil {
		return 0, fmt.Errorf("put object: %w", err)
	}
	p, err := b.newPut(ctx, name, contentType)
	if err != nil {
		return 0, b.wrap("put", name, err)
	}
	cw := &chunkWriter{size: p.chunkSize, full: p.full, free: p.free, abort: p.abort, cause: &p.cause}
	done := make(chan error, 1)
	go func() {
		err := write(cw)
		if err == nil {
			err = cw.flush()
		}
		p.written = err
		close(p.full) // the sender sees the end, and p.written
		done <- err
	}()
	size, err := p.send(ctx)
	if err != nil {
		p.stop(err) // unblock a writer still writing; it then returns err
	}
	werr := <-done
	if werr == nil && err == nil {
		return size, nil
	}
	p.purge(ctx)
	if werr != nil {
		return 0, werr
	}
	return 0, b.wrap("put", name, err)
}

// put is one object being stored.
type put struct {
	b         *Bucket
	info      jetstream.ObjectInfo
	old       *jetstream.ObjectInfo // the object replaced, if any
	stream    jetstream.Stream
	chunkSize int
	chunkSubj string

	full    chan []byte   // chunks written, in order, to the sender
	free    chan []byte   // buffers back to the writer (nil: not made yet)
	abort   chan struct{} // closed when the put fails
	cause   error         // why, set before abort is closed
	written error         // the writer's outcome, set before full is closed
	sent    []inFlight    // chunks sent and not yet acknowledged, oldest first
	sum     hash.Hash
}

// inFlight is a chunk sent and its acknowledgement to come; its buffer is
// reused only once the chunk is stored, since the client may send it
// again meanwhile (a retry after no responders).
type inFlight struct {
	ack jetstream.PubAckFuture
	buf []byte
}

func (b *Bucket) newPut(ctx context.Context, name, contentType string) (*put, error) {
	obs, err := b.bucket(ctx)
	if err != nil {
		return nil, err
	}
	str, err := b.stream(ctx)
	if err != nil {
		return nil, err
	}
	// The object this one replaces: its chunks are purged once this one
	// is complete.
	old, err := obs.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		old, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	size := b.cfg.ChunkSize
	if max := b.js.Conn().MaxPayload(); max > 0 && int64(size) > max {
		size = int(max)
	}
	meta := jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: uint32(size)}}
	if contentType != "" {
		meta.Headers = nats.Header{"Content-Type": []string{contentType}}
	}
	id := nuid.Next()
	p := &put{b: b, old: old, stream: str, chunkSize: size,
		info:      jetstream.ObjectInfo{ObjectMeta: meta, Bucket: b.cfg.Bucket, NUID: id},
		chunkSubj: "$O." + b.cfg.Bucket + ".C." + id,
		full:      make(chan []byte, b.cfg.Window), free: make(chan []byte, b.cfg.Window),
		abort: make(chan struct{}), sum: sha256.New()}
	for range b.cfg.Window {
		p.free <- nil
	}
	return p, nil
}

// send stores the chunks as the writer hands them over, keeping at most
// Window of them in flight, then the object's info once every chunk is
// acknowledged. It returns the object's size.
func (p *put) send(ctx context.Context) (int64, error) {
	ackWait := time.NewTimer(p.b.cfg.AckWait)
	defer ackWait.Stop()
	full := p.full
	for full != nil || len(p.sent) > 0 {
		// The oldest chunk's acknowledgement, if one is awaited, and how
		// long it may take.
		var (
			ok      <-chan *jetstream.PubAck
			failed  <-chan error
			timeout <-chan time.Time
		)
		if len(p.sent) > 0 {
			ok, failed, timeout = p.sent[0].ack.Ok(), p.sent[0].ack.Err(), ackWait.C
		}
		select {
		case buf, more := <-full:
			if !more {
				if p.written != nil {
					return 0, p.written // no info: the object never appears
				}
				full = nil
				continue
			}
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			p.sum.Write(buf)
			ack, err := p.b.js.PublishMsgAsync(&nats.Msg{Subject: p.chunkSubj, Data: buf})
			if err != nil {
				return 0, fmt.Errorf("send chunk %d: %w", p.info.Chunks+1, err)
			}
			if len(p.sent) == 0 {
				ackWait.Reset(p.b.cfg.AckWait)
			}
			p.sent = append(p.sent, inFlight{ack: ack, buf: buf})
			p.info.Chunks++
			p.info.Size += uint64(len(buf))
		case <-ok:
			p.free <- p.sent[0].buf[:0]
			p.sent = p.sent[1:]
			ackWait.Reset(p.b.cfg.AckWait)
		case err := <-failed:
			p.sent = p.sent[1:] // settled: purge need not wait for it
			return 0, fmt.Errorf("store chunk: %w", err)
		case <-timeout:
			return 0, fmt.Errorf("store chunk: no acknowledgement in %v: %w", p.b.cfg.AckWait, nats.ErrTimeout)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	// Every chunk is stored: the info makes the object visible, replacing
	// the one before in one step (a rollup of its subject).
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p.info.Digest = "SHA-256=" + base64.URLEncoding.EncodeToString(p.sum.Sum(nil))
	data, err := json.Marshal(p.info)
	if err != nil {
		return 0, fmt.Errorf("encode object info: %w", err)
	}
	m := nats.NewMsg("$O." + p.b.cfg.Bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(p.info.Name)))
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	m.Data = data
	actx, cancel := context.WithTimeout(ctx, p.b.cfg.AckWait)
	defer cancel()
	if _, err := p.b.js.PublishMsg(actx, m); err != nil {
		return 0, fmt.Errorf("store object info: %w", err)
	}
	if p.old != nil && !p.old.Deleted {
		// Best effort, as in nats.go: the old chunks are unreachable now.
		_ = p.stream.Purge(actx, jetstream.WithPurgeSubject("$O."+p.b.cfg.Bucket+".C."+p.old.NUID))
	}
	return int64(p.info.Size), nil
}

// stop fails the put with err: the writer's next hand-over returns it.
func (p *put) stop(err error) {
	p.cause = err
	close(p.abort)
}

// purge removes the chunks of a failed put. Chunks still in flight are
// waited for (up to AckWait), or they would land after the purge. It runs
// without ctx's cancellation: a cancelled put must still clean up.
func (p *put) purge(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	wait, cancel := context.WithTimeout(ctx, p.b.cfg.AckWait)
	defer cancel()
	for _, f := range p.sent {
		select {
		case <-f.ack.Ok():
		case <-f.ack.Err():
		case <-wait.Done():
		}
	}
	pctx, cancel := context.WithTimeout(ctx, p.b.cfg.AckWait)
	defer cancel()
	_ = p.stream.Purge(pctx, jetstream.WithPurgeSubject(p.chunkSubj))
}

// chunkWriter cuts what is written into chunks of size bytes and hands
// each full one to the sender, taking an empty buffer back (made on
// first use, so a small object costs a small buffer).
type chunkWriter struct {
	size  int
	buf   []byte
	have  bool // buf was taken from free
	full  chan<- []byte
	free  <-chan []byte
	abort <-chan struct{}
	cause *error
}

// Write copies p into chunks.
func (w *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		room, err := w.room()
		if err != nil {
			return n, err
		}
		c := copy(room, p)
		if err := w.grew(c); err != nil {
			return n + c, err
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

// ReadFrom reads r straight into chunks, each filled before it is handed
// over however little r returns per read.
func (w *chunkWriter) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		room, err := w.room()
		if err != nil {
			return n, err
		}
		c, err := r.Read(room)
		n += int64(c)
		if gerr := w.grew(c); gerr != nil {
			return n, gerr
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// room returns where the next bytes go: the free end of the chunk in
// hand, taking a buffer first if none is. A new buffer starts small and
// grows to the chunk size as it fills, so a small object costs little.
func (w *chunkWriter) room() ([]byte, error) {
	if err := w.take(); err != nil {
		return nil, err
	}
	if len(w.buf) == cap(w.buf) {
		w.buf = slices.Grow(w.buf, min(max(cap(w.buf), 32<<10), w.size-len(w.buf)))
	}
	return w.buf[len(w.buf):min(cap(w.buf), w.size)], nil
}

// grew records n bytes written into room and hands the chunk over when
// it is full.
func (w *chunkWriter) grew(n int) error {
	w.buf = w.buf[:len(w.buf)+n]
	if len(w.buf) < w.size {
		return nil
	}
	return w.handOver()
}

// take makes sure a buffer is in hand, waiting for one the sender has
// finished with when all are in flight.
func (w *chunkWriter) take() error {
	if w.have {
		return nil
	}
	if w.stopped() {
		return *w.cause
	}
	select {
	case buf := <-w.free:
		w.buf, w.have = buf, true
		return nil
	case <-w.abort:
		return *w.cause
	}
}

// handOver sends the buffer in hand to the sender.
func (w *chunkWriter) handOver() error {
	if w.stopped() {
		return *w.cause
	}
	select {
	case w.full <- w.buf:
		w.buf, w.have = nil, false
		return nil
	case <-w.abort:
		return *w.cause
	}
}

// stopped reports whether the put has failed, before a select that could
// pick a free buffer or queue room instead.
func (w *chunkWriter) stopped() bool {
	select {
	case <-w.abort:
		return true
	default:
		return false
	}
}

// flush hands over the last, partly filled chunk.
func (w *chunkWriter) flush() error {
	if !w.have || len(w.buf) == 0 {
		return nil
	}
	return w.handOver()
}

package proxy

// bufferPool recycles the buffers ReverseProxy copies bodies through. A
// buffered channel rather than sync.Pool: putting a []byte into a sync.Pool
// boxes its header and allocates on every request, which is what the pool
// is meant to avoid.
type bufferPool struct {
	size int
	free chan []byte
}

func newBufferPool(size, keep int) *bufferPool {
	return &bufferPool{size: size, free: make(chan []byte, keep)}
}

// Get returns a free buffer or a new one.
func (p *bufferPool) Get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, p.size)
	}
}

// Put keeps b for reuse unless the pool is full.
func (p *bufferPool) Put(b []byte) {
	if cap(b) < p.size {
		return
	}
	select {
	case p.free <- b[:p.size]:
	default:
	}
}

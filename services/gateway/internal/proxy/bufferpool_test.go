package proxy

import "testing"

func TestBufferPool(t *testing.T) {
	p := newBufferPool(1024, 2)
	a := p.Get()
	if len(a) != 1024 {
		t.Fatalf("len %d, want 1024", len(a))
	}
	a[0] = 7
	p.Put(a)
	if b := p.Get(); &b[0] != &a[0] {
		t.Error("a returned buffer was not reused")
	}
	p.Put(make([]byte, 10)) // too small: dropped
	if b := p.Get(); len(b) != 1024 {
		t.Errorf("got a %d-byte buffer", len(b))
	}
	allocs := testing.AllocsPerRun(100, func() { p.Put(p.Get()) })
	if allocs != 0 {
		t.Errorf("Get/Put allocates %.0f times", allocs)
	}
}

package prodlike

import "testing"

// TestPortsNeverTwice: ports picked for one topology are all different,
// though none of them is bound in between (as pods starting side by
// side have not bound theirs yet).
func TestPortsNeverTwice(t *testing.T) {
	p := newPorts()
	seen := map[int]bool{}
	for range 500 {
		port, err := p.pick()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
	}
}

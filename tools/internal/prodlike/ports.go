package prodlike

import (
	"fmt"
	"sync"

	"github.com/acube/platform/tools/internal/stack"
)

// ports hands out free loopback ports for one topology, never the same
// one twice. A port stack.FreePort picks is only free until a process
// binds it, and pods start side by side: two of them picked 127.0.0.1:23658
// in one run (the second could not listen).
type ports struct {
	mu    sync.Mutex
	given map[int]bool
}

func newPorts() *ports { return &ports{given: map[int]bool{}} }

// pick returns a free port no earlier pick returned.
func (p *ports) pick() (int, error) {
	for range 100 {
		port, err := stack.FreePort()
		if err != nil {
			return 0, err
		}
		p.mu.Lock()
		taken := p.given[port]
		p.given[port] = true
		p.mu.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no loopback port this topology has not handed out already, after 100 tries")
}

package report

import (
	"sync"
	"time"

	"github.com/prism-wait/prism-wait/internal/crash"
)

// DefaultHeartbeat is how often a line says what is still pending.
const DefaultHeartbeat = 30 * time.Second

// StartHeartbeat logs what is still pending every period, until stopped.
func (p *Progress) StartHeartbeat(period time.Duration) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	var beat func()
	beat = func() {
		defer crash.Recover(func(*crash.Panic) {}) // a heartbeat is not worth a verdict
		p.Heartbeat(time.Now())
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t = time.AfterFunc(period, beat)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(period, beat)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

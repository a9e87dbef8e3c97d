package report

import (
	"time"

	"github.com/prism-wait/prism-wait/internal/crash"
)

// DefaultHeartbeat is how often a line says what is still pending.
const DefaultHeartbeat = 30 * time.Second

// StartHeartbeat logs what is still pending every period, until stopped.
// stop waits for a heartbeat already under way: once it returns, nothing
// more is logged, so no heartbeat comes after the run's closing line.
func (p *Progress) StartHeartbeat(period time.Duration) (stop func()) {
	// Held by a heartbeat while it logs, and by stop: a channel, not a
	// mutex, so that tests under testing/synctest see stop wait durably.
	lock := make(chan struct{}, 1)
	stopped := false
	var t *time.Timer
	var beat func()
	beat = func() {
		lock <- struct{}{}
		defer func() { <-lock }()
		if stopped {
			return
		}
		defer crash.Recover(func(*crash.Panic) {}) // a heartbeat is not worth a verdict
		p.Heartbeat(time.Now())
		t = time.AfterFunc(period, beat)
	}
	lock <- struct{}{}
	defer func() { <-lock }()
	t = time.AfterFunc(period, beat)
	return func() {
		lock <- struct{}{}
		defer func() { <-lock }()
		stopped = true
		t.Stop()
	}
}

package report

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// lockedBuffer is a log's writer that a test reads while timers write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestStartHeartbeatBeatsEachPeriodUntilStopped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b lockedBuffer
		p := NewProgress(NewLog(&b, false), []string{"gen_a"}, time.Now())
		stop := p.StartHeartbeat(DefaultHeartbeat)
		time.Sleep(DefaultHeartbeat - time.Nanosecond)
		synctest.Wait()
		if b.String() != "" {
			t.Errorf("a heartbeat before its period:\n%s", b.String())
		}
		time.Sleep(DefaultHeartbeat + time.Nanosecond)
		synctest.Wait()
		want := "still waiting after 30s: gen_a not read yet\nstill waiting after 1m0s: gen_a not read yet\n"
		if b.String() != want {
			t.Errorf("logged\n%s\nwant\n%s", b.String(), want)
		}
		stop()
		time.Sleep(10 * DefaultHeartbeat)
		synctest.Wait()
		if b.String() != want {
			t.Errorf("heartbeats after stop:\n%s", strings.TrimPrefix(b.String(), want))
		}
	})
}

// A heartbeat that panics is not worth a verdict: the panic is swallowed,
// and the heartbeat stops.
func TestAHeartbeatThatPanicsIsSwallowed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b lockedBuffer
		p := NewProgress(NewLog(&b, false), []string{"gen_a"}, time.Now())
		var beats atomic.Int32
		p.Rate = func() (float64, bool) {
			beats.Add(1)
			panic("rate exploded")
		}
		stop := p.StartHeartbeat(time.Second)
		defer stop()
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := beats.Load(); n != 1 {
			t.Errorf("%d heartbeats, want the one that panicked", n)
		}
	})
}

// blockingWriter holds every write until released, and says when one is
// under way.
type blockingWriter struct {
	writing chan struct{} // one value per write begun
	release chan struct{} // closed: writes go through
	lockedBuffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.writing <- struct{}{}
	<-w.release
	return w.lockedBuffer.Write(p)
}

// Stopping the heartbeat while one is being logged waits for it: once stop
// returns, nothing more is written, so no heartbeat can follow the run's
// closing line.
func TestStopWaitsForAHeartbeatUnderWay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		w := &blockingWriter{writing: make(chan struct{}, 1), release: make(chan struct{})}
		p := NewProgress(NewLog(w, false), []string{"gen_a"}, time.Now())
		stop := p.StartHeartbeat(time.Second)
		time.Sleep(time.Second)
		<-w.writing // the first heartbeat is being written
		var stopped atomic.Bool
		go func() {
			stop()
			stopped.Store(true)
		}()
		synctest.Wait()
		if stopped.Load() {
			t.Fatal("stop returned while a heartbeat was still being written")
		}
		close(w.release)
		synctest.Wait()
		if !stopped.Load() {
			t.Fatal("stop did not return once the heartbeat was written")
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if want := "still waiting after 1s: gen_a not read yet\n"; w.String() != want {
			t.Errorf("logged\n%s\nwant only the heartbeat under way:\n%s", w.String(), want)
		}
	})
}

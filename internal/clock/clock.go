// Package clock is the program's one source of time: the real clock in
// the program, a fake one in tests, so that tests drive time instead of
// racing it. Every wait in the program goes through Sleep, which ends
// early when the context does.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of *time.Timer the program uses. C is nil for a timer
// made by AfterFunc.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Real is the system clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(d)}
}
func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Or is c, or Real when c is nil, so that a zero-valued field means the
// system clock.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Sleep waits for d on c. It returns nil when d has passed, and the
// context's cause when ctx ends first.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C():
		return nil
	}
}

// Fake is a clock that moves only when told to. Its timers fire, in order
// of their deadlines, when Advance passes them. It is safe for concurrent
// use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced whenever timers change
	auto    bool
}

// NewFake returns a fake clock that reads start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// NewAuto returns a fake clock that reads start and moves on by itself:
// each timer made by NewTimer fires as soon as it is armed, the clock
// jumping to its deadline. Code that waits on it runs at once, and tests
// can still read how long it would have waited. Timers made by AfterFunc
// (watchdogs, not waits) fire only through Advance.
func NewAuto(start time.Time) *Fake {
	f := NewFake(start)
	f.auto = true
	return f
}

type fakeTimer struct {
	f      *Fake
	when   time.Time
	c      chan time.Time
	fn     func()
	active bool
}

// Now is the fake's current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer makes a timer that fires when the clock reaches now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	return f.add(d, make(chan time.Time, 1), nil)
}

// AfterFunc makes a timer that calls fn, in its own goroutine, when the
// clock reaches now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	return f.add(d, nil, fn)
}

func (f *Fake) add(d time.Duration, c chan time.Time, fn func()) *fakeTimer {
	t := &fakeTimer{f: f, c: c, fn: fn}
	f.mu.Lock()
	defer f.mu.Unlock()
	t.schedule(d)
	f.settle(d)
	return t
}

// settle fires what is due now; f.mu is held. On an automatic clock, a
// timer just armed for d comes due at once.
func (f *Fake) settle(d time.Duration) {
	if f.auto {
		f.now = f.now.Add(max(d, 0))
		f.fireDue(false)
		return
	}
	f.fireDue(true)
}

// schedule arms t at now+d; f.mu is held.
func (t *fakeTimer) schedule(d time.Duration) {
	t.when, t.active = t.f.now.Add(d), true
	t.f.timers = append(t.f.timers, t)
	t.f.signal()
}

// unschedule disarms t; f.mu is held. It reports whether t was armed.
func (t *fakeTimer) unschedule() bool {
	was := t.active
	t.active = false
	for i, o := range t.f.timers {
		if o == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			break
		}
	}
	t.f.signal()
	return was
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// Stop disarms the timer. As with time.Timer since Go 1.23, no stale
// value is received from C after Stop or Reset.
func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.drain()
	return t.unschedule()
}

func (t *fakeTimer) drain() {
	if t.c != nil {
		select {
		case <-t.c:
		default:
		}
	}
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.drain()
	was := t.unschedule()
	t.schedule(d)
	t.f.settle(d)
	return was
}

// signal wakes BlockUntil; f.mu is held.
func (f *Fake) signal() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// fireDue fires every armed timer whose deadline has come, AfterFunc
// timers only when funcs is set; f.mu is held.
func (f *Fake) fireDue(funcs bool) {
	for {
		var next *fakeTimer
		for _, t := range f.timers {
			if !t.when.After(f.now) && (funcs || t.c != nil) && (next == nil || t.when.Before(next.when)) {
				next = t
			}
		}
		if next == nil {
			return
		}
		next.unschedule()
		if next.c != nil {
			select {
			case next.c <- f.now:
			default:
			}
		} else {
			go next.fn()
		}
	}
}

// Advance moves the clock forward by d, firing every timer that comes due
// on the way, each at its own deadline.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range f.timers {
			if !t.when.After(end) && (next == nil || t.when.Before(next.when)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		if next.when.After(f.now) {
			f.now = next.when
		}
		f.fireDue(true)
	}
	f.now = end
}

// Pending is the number of armed timers.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// BlockUntil waits until at least n timers are armed, so that a test
// advances the clock only once the code under test is waiting on it. It
// returns ctx's error if ctx ends first.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		armed, changed := len(f.timers), f.changed
		f.mu.Unlock()
		if armed >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

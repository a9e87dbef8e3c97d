// Package budget is one request budget for every request a run sends to
// the API with its key: status reads, URL refreshes and submissions. A
// rate limit belongs to the key, not to one generation, so a 429 slows
// every request down, not only the one that received it.
//
// Until the API first answers 429, the budget costs a lock and a clock
// read per request: nothing waits. After a 429:
//
//   - every request pauses until its Retry-After has passed (a backoff
//     step when there is none);
//   - requests then go through a token bucket (golang.org/x/time/rate)
//     holding one second's worth of requests. Its rate starts at half the
//     cadence's, and never above what the API was seen to accept in the
//     second before the first 429; each later 429 halves it
//     (multiplicative decrease), and it grows by an eighth of that first
//     figure each second of accepted requests (additive increase);
//   - the rate never exceeds what the cadence needs, pending generations
//     ÷ poll_interval, which falls as generations finish;
//   - waiting requests take turns: the one whose generation got its last
//     read the longest ago goes first (a generation never read goes before
//     any other), so none starves however small the budget. A request
//     refused with 429 does not count as a read: it keeps its place.
//
// Whether to retry and how long a generation waits between its reads stay
// with the caller; the budget only says when the next request may leave.
package budget

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/prism-wait/prism-wait/internal/crash"
)

// window is how far back the reads accepted before the first 429 are
// counted, to estimate the rate the API allows.
const window = time.Second

// history is how many recent reads are remembered for that estimate: a
// budget first shrinks to at most history/2 requests per second.
const history = 256

// Budget is the scheduler for one API key. Its zero value is not usable;
// build it with New. A nil *Budget never limits.
type Budget struct {
	interval time.Duration // poll_interval: the cadence each generation needs
	maxStep  time.Duration // cap of the pause after a 429 without Retry-After
	// Shrunk is called once, when the budget first limits requests, with
	// its rate in requests per second, outside any lock. It may be nil.
	Shrunk func(perSecond float64)

	mu      sync.Mutex
	pending int // generations waiting for a verdict
	limited bool
	// rate is the bucket's rate while limited; 0 until the first pause
	// ends and the rate is estimated.
	rate     float64
	increase float64 // additive increase, requests per second per second
	lim      *rate.Limiter
	epoch    uint64    // bumped by each decrease: one decrease per 429 storm
	pause    time.Time // no request leaves before
	first429 time.Time // when the first 429 came
	step     time.Duration
	shrunk   bool
	lastRead map[string]time.Time
	reads    [history]time.Time // when the latest reads were sent, a ring
	nreads   int
	queue    queue
	seq      uint64
	timer    *time.Timer // dispatches again when the next turn is due, if armed
}

// New returns a budget for generations polled every interval. maxStep
// caps the pause after a 429 that gives no Retry-After.
func New(interval, maxStep time.Duration) *Budget {
	return &Budget{interval: interval, maxStep: max(maxStep, interval), lastRead: map[string]time.Time{}}
}

// Turn is the permission to send one request. Tell the budget its
// outcome: Read when the API answered anything but 429, Refused for a
// 429. Nothing need be said after a network error.
type Turn struct {
	b     *Budget
	id    string
	at    time.Time
	epoch uint64
}

// PauseError is what Wait returns, at once, when every request must wait
// after a 429 until past the deadline of the request's context: waiting
// for nothing helps no one.
type PauseError struct{ Left time.Duration }

func (e *PauseError) Error() string {
	return fmt.Sprintf("every request waits %s after a 429, which is past the deadline", e.Left.Round(time.Millisecond))
}

// Add changes the number of generations waiting for a verdict by n; the
// rate never exceeds what they need, one read each poll_interval.
func (b *Budget) Add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = max(b.pending+n, 0)
	if b.limited && b.rate > 0 {
		b.setRate(time.Now(), b.rate)
	}
}

// ceiling is the rate the cadence needs; b.mu is held. A run always needs
// at least one request each interval: a submit, or a refresh.
func (b *Budget) ceiling() float64 {
	return float64(max(b.pending, 1)) / b.interval.Seconds()
}

// Rate is the current rate in requests per second, and whether the budget
// limits requests at all. It is 0 while limited during the first pause.
func (b *Budget) Rate() (perSecond float64, limited bool) {
	if b == nil {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate, b.limited
}

// Wait returns when the request for generation id may be sent ("" for a
// request that reads no generation, such as a submit). It returns ctx's
// cause if ctx ends first, and a *PauseError at once if the pause after a
// 429 lasts past ctx's deadline.
func (b *Budget) Wait(ctx context.Context, id string) (Turn, error) {
	if b == nil {
		return Turn{}, nil
	}
	b.mu.Lock()
	now := time.Now()
	if !b.limited {
		t := Turn{b: b, id: id, at: now, epoch: b.epoch}
		b.mu.Unlock()
		return t, nil
	}
	dl, _ := ctx.Deadline()
	if err := b.pastDeadline(now, dl); err != nil {
		b.mu.Unlock()
		return Turn{}, err
	}
	b.seq++
	w := &waiter{id: id, last: b.lastRead[id], seq: b.seq, deadline: dl, ready: make(chan struct{})}
	heap.Push(&b.queue, w)
	notify := b.dispatch(now)
	b.mu.Unlock()
	b.notify(notify)
	select {
	case <-w.ready:
	case <-ctx.Done():
		b.mu.Lock()
		if w.index >= 0 {
			heap.Remove(&b.queue, w.index)
			notify = b.dispatch(time.Now())
		}
		b.mu.Unlock()
		b.notify(notify)
		return Turn{}, context.Cause(ctx)
	}
	if w.err != nil {
		return Turn{}, w.err
	}
	return Turn{b: b, id: id, at: w.at, epoch: w.epoch}, nil
}

// pastDeadline is a *PauseError when the pause ends after dl (zero: no
// deadline); b.mu is held.
func (b *Budget) pastDeadline(now, dl time.Time) error {
	left := b.pause.Sub(now)
	if dl.IsZero() || left <= 0 || dl.Sub(now) >= left {
		return nil
	}
	return &PauseError{Left: left}
}

// dispatch hands out every turn that is due, oldest read first, and arms
// the timer for the next one; b.mu is held and b is limited. It returns
// the rate to announce when the budget has just started limiting, else 0.
func (b *Budget) dispatch(now time.Time) (notify float64) {
	if now.Before(b.pause) {
		if b.queue.Len() > 0 {
			b.arm(b.pause.Sub(now))
		}
		return 0
	}
	if b.rate == 0 {
		if r := b.estimate(now); r > 0 && !b.shrunk {
			b.shrunk, notify = true, r
		}
	}
	for b.queue.Len() > 0 {
		if !b.lim.AllowN(now, 1) {
			// The time until a whole token.
			need := (1 - b.lim.TokensAt(now)) / b.rate
			b.arm(time.Duration(math.Ceil(need * float64(time.Second))))
			break
		}
		b.grant(heap.Pop(&b.queue).(*waiter), now)
	}
	return notify
}

func (b *Budget) grant(w *waiter, now time.Time) {
	w.at, w.epoch = now, b.epoch
	close(w.ready)
}

// estimate sets the first rate of a limited spell, once its first pause
// is over: the cadence's rate halved, and no more than the reads the API
// accepted in the second before its first 429 (at least one). Reads still
// in flight when the first 429 came back count, since they are answered
// by now. The additive increase is an eighth of that count per second.
// It returns the rate; b.mu is held.
func (b *Budget) estimate(now time.Time) float64 {
	accepted := 0
	for _, at := range b.reads {
		if !at.IsZero() && !at.After(b.first429) && b.first429.Sub(at) < window {
			accepted++
		}
	}
	accepted = max(accepted, 1)
	b.increase = float64(accepted) / 8
	b.rate = b.clamp(min(b.ceiling()/2, float64(accepted)))
	// Full, as the API's own bucket is after the pause.
	b.lim = rate.NewLimiter(rate.Limit(b.rate), burst(b.rate))
	return b.rate
}

// setRate sets the bucket's rate, between the floor and the ceiling, and
// its burst to one second's worth; b.mu is held. At the ceiling it still
// limits: the API's own bucket may be empty after a probe above its rate,
// and a burst of the cadence's requests would meet 429s again. After a
// pause the bucket is full, as the API's is: the waiting requests leave
// in a burst of one second's worth, then at the rate.
func (b *Budget) setRate(now time.Time, r float64) {
	b.rate = b.clamp(r)
	b.lim.SetLimitAt(now, rate.Limit(b.rate))
	b.lim.SetBurstAt(now, burst(b.rate))
}

// clamp is r between the floor, one request per maxStep, and the
// ceiling; b.mu is held.
func (b *Budget) clamp(r float64) float64 {
	return min(max(r, 1/b.maxStep.Seconds()), b.ceiling())
}

// burst is one second's worth of requests at r, at least one.
func burst(r float64) int { return max(1, int(r)) }

// arm sets the timer to dispatch again after d; b.mu is held. A timer
// that fires late, after another dispatch, finds nothing due: harmless.
func (b *Budget) arm(d time.Duration) {
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = time.AfterFunc(d, func() {
		defer crash.Recover(b.fail)
		b.tick()
	})
}

func (b *Budget) tick() {
	b.mu.Lock()
	notify := b.dispatch(time.Now())
	b.mu.Unlock()
	b.notify(notify)
}

// fail ends every wait with p: a bug in the budget must not leave requests
// waiting for ever.
func (b *Budget) fail(p *crash.Panic) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.queue.Len() > 0 {
		w := heap.Pop(&b.queue).(*waiter)
		w.err = p
		close(w.ready)
	}
}

func (b *Budget) notify(r float64) {
	if r > 0 && b.Shrunk != nil {
		b.Shrunk(r)
	}
}

// Read tells the budget the API answered the request (anything but 429).
// Its generation goes behind every generation read longer ago, and the
// rate grows by the additive step, spread over a second's requests.
func (t Turn) Read() {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.at.After(b.lastRead[t.id]) {
		b.lastRead[t.id] = t.at
	}
	b.reads[b.nreads%history] = t.at
	b.nreads++
	b.step = 0
	if b.limited && b.rate > 0 {
		b.setRate(time.Now(), b.rate+b.increase/b.rate)
	}
}

// Refused tells the budget the API answered 429, with retryAfter (0 when
// absent). Every request pauses until then (or a backoff step, doubling
// from poll_interval up to the cap while 429s without Retry-After follow
// each other). The first 429 of a storm halves the rate; the refusals of
// requests sent before that decrease do not halve it again.
func (t Turn) Refused(retryAfter time.Duration) {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	now := time.Now()
	d := retryAfter
	if d <= 0 {
		b.step = min(max(2*b.step, b.interval), b.maxStep)
		d = b.step
	}
	if until := now.Add(min(d, time.Duration(1<<62))); until.After(b.pause) {
		b.pause = until
	}
	switch {
	case !b.limited:
		b.limited, b.rate, b.first429 = true, 0, now
		b.epoch++
	case t.epoch == b.epoch && b.rate > 0:
		b.epoch++
		b.setRate(now, b.rate/2)
	}
	// Requests waiting past their deadline need not wait for nothing.
	// Collected first: removing from a heap moves its other elements.
	var late []*waiter
	for _, w := range b.queue {
		if err := b.pastDeadline(now, w.deadline); err != nil {
			w.err = err
			late = append(late, w)
		}
	}
	for _, w := range late {
		heap.Remove(&b.queue, w.index)
		close(w.ready)
	}
	notify := b.dispatch(now)
	b.mu.Unlock()
	b.notify(notify)
}

// waiter is a request waiting for its turn.
type waiter struct {
	id       string
	last     time.Time // when its generation last got a read; zero: never
	seq      uint64    // arrival order, among equals
	deadline time.Time
	ready    chan struct{}
	index    int // in the queue; -1 once out of it
	at       time.Time
	epoch    uint64
	err      error
}

// queue orders waiters by the time their generation last got a read.
type queue []*waiter

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].last.Equal(q[j].last) {
		return q[i].last.Before(q[j].last)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *queue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *queue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*q = old[:len(old)-1]
	return w
}

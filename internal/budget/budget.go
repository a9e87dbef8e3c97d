// Package budget is one request budget for every request a run sends to
// the API with its key: status reads, URL refreshes and submissions. A
// rate limit belongs to the key, not to one generation, so a 429 slows
// every request down, not only the one that received it.
//
// A run opens like a TCP connection: its first request goes alone, and
// each the API accepts lets two more leave (the window doubles each round
// trip), each 429 takes two back, until the window holds every pending
// generation. A request never waits in the window for more than a tenth
// of poll_interval after the one before it left. So jobs of a matrix that
// start together on one key meet the key's limit with one or two 429s
// each, not with all their first reads at once.
//
// Until the API first answers 429, that is all: no rate. A first 429
// pauses only the request's own generation (for its Retry-After): one
// 429 is no proof of the key's limit, and that pause stays the
// generation's own. Once a 429 comes for another request too, a limited
// phase starts:
//
//   - every request pauses until that 429's Retry-After has passed (a backoff
//     step when there is none). The pause is only a pause: the rate after
//     it does not depend on how long it was. After it, requests open
//     again as the run did, one first. When that one is refused at once,
//     others took the key's requests during the pause, and the next
//     pause lasts a random part of poll_interval longer, so jobs sharing
//     the key do not all come back at the same instant again;
//   - requests then go through a token bucket (golang.org/x/time/rate).
//     Its rate starts from what the API is known to accept: the requests
//     it accepted in the second before the first 429, or the cadence's own
//     rate when it accepted none. Its burst is what the API accepted at
//     once before that 429 (one second's worth when nothing is known);
//   - while requests are accepted, the rate doubles each second until a
//     429 comes (the rate the API showed is a burst, not yet a rate);
//   - one storm, every 429 until the next accepted request, shrinks the
//     rate once, to 0.7 of it (multiplicative decrease), or to what the
//     API accepted in the last second when that is less (but not below
//     one request each poll_interval unless 0.7× is): a job that gets
//     less than its rate shares the key with others. The rate shrinks once more each time
//     the storm outlasts the pause it brought; from there it grows by an
//     eighth of the phase's first rate each second (additive increase);
//   - the rate never exceeds what the cadence needs, pending generations
//     ÷ poll_interval, which falls as generations finish. Once it covers
//     that and no 429 has come for a while (two poll_intervals, at least
//     2s), the limited phase ends and requests leave at once again;
//   - waiting requests take turns: the one whose generation last asked the
//     longest ago goes first (one that never asked before any other). A
//     generation asks with each request the API answers; refused once in
//     a row, it keeps its place, but refused again it has asked too, and
//     goes behind the others: one refused again and again cannot take
//     every turn. (One never read yet keeps going first.)
//
// A generation refused again while other requests were accepted since
// its last refusal, which was the only one of its storm, with no other
// storm in between, is refused on its own, not by the key's limit: its
// 429 pauses only its own requests, and neither pauses the others nor
// shrinks the rate.
//
// Whether to retry and how long a generation waits between its reads stay
// with the caller; the budget only says when the next request may leave.
package budget

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/pause"
)

// window is how far back the reads accepted before the first 429 are
// counted, to estimate the rate the API allows.
const window = time.Second

// decrease is what a storm leaves of the rate: gentler than halving, so
// that a steady limit costs fewer pauses, each a whole Retry-After.
const decrease = 0.7

// history is how many recent reads are remembered for that estimate: a
// budget first shrinks to at most history requests per second.
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
	// The opening: until the first requests show how much the API takes
	// at once, requests leave one round trip after another, doubling.
	opened      bool      // the opening is over
	inflight    int       // requests of the opening sent and not answered yet
	openedAt    uint64    // accepts when the opening began
	round       uint64    // openings begun after a pause
	openRefused int       // 429s since the opening began
	granted     time.Time // when the latest turn was handed out
	limited     bool
	// rate is the bucket's rate while limited; 0 until the first pause
	// of a limited phase ends and the rate is estimated.
	rate      float64
	safe      float64   // doubling up to it, additive above: where the last storm left the rate
	grown     time.Time // when the rate last doubled, or its phase began
	increase  float64   // additive increase, requests per second per second
	burst     int       // what the API accepted at once before the first 429
	burstSeen bool      // burst is what the API showed, not a guess
	lim       *rate.Limiter
	epoch     uint64          // bumped by each decrease: one decrease per storm
	calm      bool            // a request was accepted since the latest 429
	cut       bool            // the current storm has shrunk the rate already
	cutUntil  time.Time       // the end of the pause that came with that decrease
	storms    uint64          // storms so far: runs of 429s between accepted requests
	stormIDs  map[string]bool // the generations the current storm refused
	// suspect is the one generation a 429 paused while unlimited, until
	// it is read or another request meets a 429 too; suspectAt is when.
	suspect   string
	suspectAt time.Time
	accepts   uint64    // requests accepted so far
	pause     time.Time // no request leaves before
	first429  time.Time // when this limited phase's first 429 came
	last429   time.Time // the latest 429 of the key's limit
	step      time.Duration
	shrunk    bool
	asked     map[string]time.Time // when each generation last asked, for the turn order
	refused   map[string]refusal   // each generation's latest 429, while it lasts
	reads     [history]time.Time   // when the latest reads were sent, a ring
	nreads    int
	queue     queue
	seq       uint64
	timer     *time.Timer // dispatches again when the next turn is due, if armed
}

// refusal is what the budget knew when a generation's request was last
// refused: a generation refused again, alone in its storm, after others'
// requests were accepted and with no new storm, is refused on its own.
type refusal struct {
	storms, accepts uint64
	until           time.Time // its own requests pause until then
}

// New returns a budget for generations polled every interval. maxStep
// caps the pause after a 429 that gives no Retry-After.
func New(interval, maxStep time.Duration) *Budget {
	return &Budget{interval: interval, maxStep: max(maxStep, interval),
		calm: true, asked: map[string]time.Time{}, refused: map[string]refusal{}}
}

// Turn is the permission to send one request. Tell the budget its
// outcome: Read when the API answered anything but 429, Refused for a
// 429, Lost when no answer came (a network error).
type Turn struct {
	b       *Budget
	id      string
	at      time.Time
	epoch   uint64
	opening bool   // sent during the opening: counted in flight
	round   uint64 // which opening: 0 the run's, 1 the one after the first pause, …
}

// PauseError is what Wait returns, at once, when the request must wait
// after a 429 (every request's, or its own generation's) until the
// deadline of the request's context or later: waiting for nothing helps
// no one.
type PauseError struct {
	Left time.Duration
	Own  bool // the generation's own pause, not the key's
}

// century: a pause this long is shown as what it is, not to the
// millisecond (pauses are capped at about 146 years).
const century = 100 * 365 * 24 * time.Hour

func (e *PauseError) Error() string {
	left := "more than a century"
	if e.Left < century {
		left = e.Left.Round(time.Millisecond).String()
	}
	if e.Own {
		return fmt.Sprintf("its generation waits %s after its 429, which is past the deadline", left)
	}
	return fmt.Sprintf("every request waits %s after a 429, which is past the deadline", left)
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

// quiet is how long no 429 must come before a limited phase may end.
func (b *Budget) quiet() time.Duration { return max(2*b.interval, 2*time.Second) }

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
	if until := b.refused[id].until; now.Before(until) {
		// Refused on its own: only its own requests wait, for its
		// Retry-After, and not for nothing past the deadline.
		if dl, ok := ctx.Deadline(); ok && !dl.After(until) {
			b.mu.Unlock()
			return Turn{}, &PauseError{Left: until.Sub(now), Own: true}
		}
		b.mu.Unlock()
		if err := pause.For(ctx, until.Sub(now)); err != nil {
			return Turn{}, err
		}
		b.mu.Lock()
		now = time.Now()
	}
	if !b.limited && b.queue.Len() == 0 && b.held(now) == 0 {
		t := Turn{b: b, id: id, at: now, epoch: b.epoch, opening: !b.opened, round: b.round}
		b.granted = now
		if t.opening {
			b.inflight++
		}
		b.mu.Unlock()
		return t, nil
	}
	dl, _ := ctx.Deadline()
	if err := b.pastDeadline(now, dl); err != nil {
		b.mu.Unlock()
		return Turn{}, err
	}
	b.seq++
	_, refused := b.refused[id]
	w := &waiter{id: id, last: b.asked[id], refused: refused, seq: b.seq, deadline: dl, ready: make(chan struct{})}
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
	return Turn{b: b, id: id, at: w.at, epoch: w.epoch, opening: w.opening, round: w.round}, nil
}

// window is how many requests of the opening may be in flight: one, and
// two more for each the API accepted; b.mu is held.
func (b *Budget) window() int {
	return max(1, 1+int(min(b.accepts-b.openedAt, 1<<20))-2*b.openRefused)
}

// gate is the longest a request waits in the opening for the requests
// before it to be answered: a tenth of poll_interval.
func (b *Budget) gate() time.Duration { return b.interval / 10 }

// pastDeadline is a *PauseError when the pause ends at dl or after it
// (zero: no deadline): a request could not leave before its context
// ends. b.mu is held.
func (b *Budget) pastDeadline(now, dl time.Time) error {
	left := b.pause.Sub(now)
	if dl.IsZero() || left <= 0 || dl.Sub(now) > left {
		return nil
	}
	return &PauseError{Left: left}
}

// dispatch hands out every turn that is due, the longest since it asked
// first, and arms the timer for the next one; b.mu is held. It returns
// the rate to announce when the budget has just started limiting, else 0.
func (b *Budget) dispatch(now time.Time) (notify float64) {
	if !b.limited {
		b.open(now)
		return 0
	}
	if now.Before(b.pause) {
		if b.queue.Len() > 0 {
			b.arm(b.pause.Sub(now))
		} else {
			b.unarm()
		}
		return 0
	}
	if b.rate == 0 {
		if r := b.estimate(now); !b.shrunk {
			b.shrunk, notify = true, r
		}
	}
	for b.queue.Len() > 0 {
		if left := b.held(now); left > 0 {
			b.arm(left)
			break
		}
		if !b.lim.AllowN(now, 1) {
			// The time until a whole token.
			need := (1 - b.lim.TokensAt(now)) / b.rate
			b.arm(time.Duration(math.Ceil(need * float64(time.Second))))
			break
		}
		b.grant(heap.Pop(&b.queue).(*waiter), now)
	}
	if b.queue.Len() == 0 {
		b.unarm() // nobody is left to dispatch to
	}
	return notify
}

func (b *Budget) grant(w *waiter, now time.Time) {
	w.at, w.epoch, w.round, b.granted = now, b.epoch, b.round, now
	if w.opening = !b.opened; w.opening {
		b.inflight++
	}
	close(w.ready)
}

// open hands out the turns of an unlimited budget: all of them once the
// opening is over; during it, as many as the window allows, and those
// that waited a gate for it; b.mu is held.
func (b *Budget) open(now time.Time) {
	for b.queue.Len() > 0 {
		if left := b.held(now); left > 0 {
			b.arm(left)
			return
		}
		b.grant(heap.Pop(&b.queue).(*waiter), now)
	}
	b.unarm()
}

// held is how long the opening still holds the next request: until an
// answer makes room in the window, or for a gate after the latest request
// left, whichever is first; 0 when it may go. b.mu is held.
func (b *Budget) held(now time.Time) time.Duration {
	if b.opened || b.inflight < b.window() {
		return 0
	}
	return max(b.granted.Add(b.gate()).Sub(now), 0)
}

// answered counts the end of a turn of the opening; b.mu is held.
func (t Turn) answered() {
	if t.opening && t.b.inflight > 0 {
		t.b.inflight--
	}
}

// Lost tells the budget the request got no answer (a network error).
func (t Turn) Lost() {
	b := t.b
	if b == nil || !t.opening {
		return
	}
	b.mu.Lock()
	t.answered()
	notify := b.dispatch(time.Now())
	b.mu.Unlock()
	b.notify(notify)
}

// estimate sets the first rate of a limited phase, once its first pause
// is over: the reads the API accepted in the second before the phase's
// first 429, or, when it accepted none, the cadence's own rate. Reads
// still in flight when the first 429 came back count, since they are
// answered by now. The burst is those reads too (one second's worth at
// the cadence when there were none), and the additive increase an eighth
// of the first rate per second. It returns the rate; b.mu is held.
func (b *Budget) estimate(now time.Time) float64 {
	accepted := 0
	for _, at := range b.reads {
		if !at.IsZero() && !at.After(b.first429) && b.first429.Sub(at) < window {
			accepted++
		}
	}
	switch {
	case accepted > 0:
		b.rate = b.clamp(float64(accepted) / window.Seconds())
		if !b.burstSeen {
			// The first phase's: what the API took at once from a run
			// that sent without a budget. Later phases' reads came at
			// the budget's rate: a rate, not a burst.
			b.burst, b.burstSeen = accepted, true
		}
	case !b.burstSeen:
		b.rate = b.clamp(b.ceiling())
		b.burst = int(math.Ceil(b.rate))
	default:
		b.rate = b.clamp(b.ceiling())
	}
	b.safe, b.grown = math.Inf(1), now
	b.increase = max(b.rate, 1) / 8
	// Full, as the API's own bucket is after the pause.
	b.lim = rate.NewLimiter(rate.Limit(b.rate), b.burstAt(b.rate))
	return b.rate
}

// acceptedSince counts the reads sent at t or later that the API accepted;
// b.mu is held.
func (b *Budget) acceptedSince(t time.Time) int {
	n := 0
	for _, at := range b.reads {
		if !at.IsZero() && !at.Before(t) {
			n++
		}
	}
	return n
}

// setRate sets the bucket's rate, between the floor and the ceiling, and
// its burst; b.mu is held.
func (b *Budget) setRate(now time.Time, r float64) {
	b.rate = b.clamp(r)
	b.lim.SetLimitAt(now, rate.Limit(b.rate))
	b.lim.SetBurstAt(now, b.burstAt(b.rate))
}

// clamp is r between the floor, one request per maxStep, and the
// ceiling; b.mu is held.
func (b *Budget) clamp(r float64) float64 {
	return min(max(r, 1/b.maxStep.Seconds()), b.ceiling())
}

// burstAt is the bucket's burst at rate r: what the API accepted at once,
// and no more than one second's worth at r; at least one.
func (b *Budget) burstAt(r float64) int { return max(1, min(b.burst, int(r))) }

// leave ends the limited phase when the rate covers what the pending
// generations need, no request waits for its turn, and no 429 has come
// for a while; b.mu is held, and the budget is limited with a rate.
func (b *Budget) leave(now time.Time) {
	if b.rate >= b.ceiling() && now.Sub(b.last429) >= b.quiet() && !now.Before(b.pause) && b.queue.Len() == 0 {
		b.limited, b.rate, b.lim = false, 0, nil
	}
}

// arm sets the timer to dispatch again after d; b.mu is held. A timer
// that fires late, after another dispatch, finds nothing due: harmless.
func (b *Budget) arm(d time.Duration) {
	b.unarm()
	b.timer = time.AfterFunc(d, func() {
		defer crash.Recover(b.fail)
		b.tick()
	})
}

// unarm stops the timer armed to dispatch, if any; b.mu is held.
func (b *Budget) unarm() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
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
// It ends a storm, and the rate grows: doubling each second of accepted
// requests up to the last rate that drew no 429, and by the additive
// step, spread over a second's requests, above it.
func (t Turn) Read() {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	if t.at.After(b.asked[t.id]) {
		b.asked[t.id] = t.at
	}
	b.reads[b.nreads%history] = t.at
	b.nreads++
	b.accepts++
	t.answered()
	if b.pending > 0 && b.window() >= b.pending {
		b.opened = true
	}
	b.calm = true
	b.step = 0
	delete(b.refused, t.id)
	if t.id == b.suspect {
		b.suspect = ""
	}
	if b.limited && b.rate > 0 {
		now := time.Now()
		r := b.rate
		if r < b.safe {
			// Doubling per second of accepted requests; after an idle
			// spell, no more than once.
			r = min(r*math.Pow(2, min(now.Sub(b.grown).Seconds(), 1)), b.safe)
			b.grown = now
		} else {
			r += b.increase / r
		}
		b.setRate(now, r)
		b.leave(now)
	}
	notify := b.dispatch(time.Now())
	b.mu.Unlock()
	b.notify(notify)
}

// Refused tells the budget the API answered 429, with retryAfter (0 when
// absent). Every request pauses until then (or a backoff step, doubling
// from poll_interval up to the cap while 429s without Retry-After follow
// each other). The first 429 of a storm shrinks the rate; the refusals of
// requests sent before that decrease do not shrink it again. A generation
// refused on its own pauses only its own requests.
func (t Turn) Refused(retryAfter time.Duration) {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	now := time.Now()
	t.answered()
	if !b.opened {
		b.openRefused++
	}
	d := retryAfter
	if d <= 0 {
		b.step = min(max(2*b.step, b.interval), b.maxStep)
		d = b.step
	}
	until := now.Add(min(d, time.Duration(1<<62)))
	prev, again := b.refused[t.id]
	if last := b.asked[t.id]; again && !last.IsZero() && t.at.After(last) {
		// Refused again in a row: it asked, and goes behind. One never
		// read keeps going first: its first read is what it waits for.
		b.asked[t.id] = t.at
	}
	if t.id != "" && again && prev.storms == b.storms && len(b.stormIDs) == 1 && b.stormIDs[t.id] && b.accepts > prev.accepts {
		b.refused[t.id] = refusal{storms: b.storms, accepts: b.accepts, until: until}
		notify := b.dispatch(now)
		b.mu.Unlock()
		b.notify(notify)
		return
	}
	if !b.limited && t.id != "" && (b.suspect == "" || b.suspect == t.id) {
		// One 429 is no proof of the key's limit: it pauses only its own
		// generation, until a 429 for another request shows the limit.
		if b.suspect == "" {
			b.suspect, b.suspectAt = t.id, now
		}
		b.refused[t.id] = refusal{storms: b.storms, accepts: b.accepts, until: until}
		notify := b.dispatch(now)
		b.mu.Unlock()
		b.notify(notify)
		return
	}
	if t.opening && t.round > 0 && t.round == b.round && b.accepts == b.openedAt && b.interval > 0 {
		// The first request after a pause refused at once: others took
		// the key's requests during it. Probing again at a random instant
		// keeps jobs that share the key from meeting each pause's end.
		until = until.Add(time.Duration(rand.Int64N(int64(b.interval))))
	}
	if until.After(b.pause) {
		b.round++
		b.pause = until
		// After the pause, requests leave as in the opening again.
		b.opened, b.openedAt, b.openRefused = false, b.accepts, 0
	}
	b.last429 = now
	if b.calm {
		b.storms, b.calm, b.cut = b.storms+1, false, false
		b.stormIDs = map[string]bool{}
	}
	switch {
	case !b.limited:
		b.limited, b.rate, b.first429, b.cut = true, 0, now, true
		if b.suspect != "" {
			// The suspect's 429 was the key's limit's first. Its own
			// Retry-After stays its own: the key pauses for the latest
			// one, the API's latest word, and a long pause of a
			// generation that may have stopped waiting since does not
			// hold every other request.
			b.first429 = b.suspectAt
			b.suspect = ""
		}
		b.epoch++
		b.cutUntil = b.pause
	case (!b.cut || !t.at.Before(b.cutUntil)) && t.epoch == b.epoch && b.rate > 0:
		// Sent at the current rate, the storm's first such 429, or one
		// sent after the pause of the storm's decrease (a storm that
		// outlasts its pause is met again): the rate shrinks, and grows
		// back additively from there.
		b.epoch++
		r := b.rate * decrease
		// Less accepted in the last second than that: others share the
		// key, and the rate is what was accepted, but no less than one
		// request each poll_interval (unless 0.7× is less).
		got := float64(b.acceptedSince(now.Add(-window)))
		r = max(min(got, r), min(r, 1/b.interval.Seconds()))
		b.setRate(now, r)
		b.safe, b.cut, b.cutUntil = b.rate, true, b.pause
	}
	b.refused[t.id] = refusal{storms: b.storms, accepts: b.accepts}
	b.stormIDs[t.id] = true
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
	last     time.Time // when its generation last asked; zero: never
	refused  bool      // its generation's latest request was refused
	seq      uint64    // arrival order, among equals
	deadline time.Time
	ready    chan struct{}
	index    int // in the queue; -1 once out of it
	at       time.Time
	epoch    uint64
	opening  bool
	round    uint64
	err      error
}

// queue orders waiters by the time their generation last asked.
type queue []*waiter

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].last.Equal(q[j].last) {
		return q[i].last.Before(q[j].last)
	}
	if q[i].refused != q[j].refused {
		return !q[i].refused // asked at the same time: the refused one goes behind
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

package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/crash"
)

// call is a Wait running in its own goroutine.
type call struct {
	id   string
	done chan struct{}
	turn Turn
	err  error
}

func start(ctx context.Context, b *Budget, id string) *call {
	c := &call{id: id, done: make(chan struct{})}
	go func() {
		c.turn, c.err = b.Wait(ctx, id)
		close(c.done)
	}()
	return c
}

func (c *call) ready() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// result is what the call returned, once every goroutine of the bubble
// has settled at the current time; the call must have returned by then.
func (c *call) result(t *testing.T) (Turn, error) {
	t.Helper()
	synctest.Wait()
	if !c.ready() {
		t.Fatalf("Wait(%q) has not returned", c.id)
	}
	return c.turn, c.err
}

// queued checks that n requests wait in b's queue once every goroutine of
// the bubble has settled at the current time.
func queued(t *testing.T, b *Budget, n int) {
	t.Helper()
	synctest.Wait()
	b.mu.Lock()
	got := b.queue.Len()
	b.mu.Unlock()
	if got != n {
		t.Fatalf("%d requests in the queue, want %d", got, n)
	}
}

// advance lets the bubble's clock move on by d, every timer due on the
// way firing at its own time, and lets what they woke settle.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// armed tells whether b has a timer set to dispatch again.
func armed(b *Budget) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.timer != nil
}

// next advances the clock by d and returns the one call, of calls, that
// got its turn; it fails unless exactly one of them did. Calls already
// done when it is called do not count.
func next(t *testing.T, b *Budget, d time.Duration, calls []*call) *call {
	t.Helper()
	var waiting []*call
	for _, c := range calls {
		if !c.ready() {
			waiting = append(waiting, c)
		}
	}
	advance(d)
	queued(t, b, len(waiting)-1) // one turn handed out, no more
	cases := make([]reflect.SelectCase, len(waiting))
	for i, c := range waiting {
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.done)}
	}
	i, _, _ := reflect.Select(cases) // its Wait returns soon after
	return waiting[i]
}

// one sets b's rate back to one turn a second, undoing the increase.
func one(b *Budget) {
	b.mu.Lock()
	b.lim.SetLimitAt(time.Now(), 1)
	b.rate = 1
	b.mu.Unlock()
}

// limit puts a budget for pending generations polled every second into a
// limited state: accepted reads answered now, then 429s with Retry-After
// retryAfter for two requests (one alone pauses only its generation).
// Call it in a bubble.
func limit(t *testing.T, pending, accepted int, retryAfter time.Duration) *Budget {
	t.Helper()
	b := limitEvery(t, time.Second, pending, accepted, retryAfter)
	skipOpening(b)
	return b
}

// limitEvery is limit for generations polled every interval, with the
// opening after the pause left as it is: one request first.
func limitEvery(t *testing.T, interval time.Duration, pending, accepted int, retryAfter time.Duration) *Budget {
	t.Helper()
	b := New(interval, time.Minute)
	b.Add(pending)
	for i := range accepted {
		turn, err := b.Wait(t.Context(), fmt.Sprintf("ok_%d", i))
		if err != nil {
			t.Fatal(err)
		}
		turn.Read()
	}
	for _, id := range []string{"refused", "refused_too"} {
		turn, err := b.Wait(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		turn.Refused(retryAfter)
	}
	return b
}

// skipOpening ends the opening that a pause starts again, for the tests
// of what comes after it (the bucket, the turns, the pauses): the
// TestOpening* tests pin the opening itself.
func skipOpening(b *Budget) {
	b.mu.Lock()
	b.opened = true
	b.mu.Unlock()
}

func rateOf(b *Budget) float64 {
	r, _ := b.Rate()
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestUnlimitedNeverWaits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(2)
		for i := range 1000 {
			turn, err := b.Wait(t.Context(), "gen_a")
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				turn.Read()
			}
		}
		if r, limited := b.Rate(); limited || r != 0 {
			t.Errorf("Rate() = %v, %v without a 429; want 0, false", r, limited)
		}
		if armed(b) {
			t.Error("a timer armed without a 429")
		}
	})
}

func TestNilBudget(t *testing.T) {
	t.Parallel()
	var b *Budget
	b.Add(3)
	turn, err := b.Wait(t.Context(), "gen_a")
	if err != nil {
		t.Fatal(err)
	}
	turn.Read()
	turn.Refused(time.Hour)
	if r, limited := b.Rate(); r != 0 || limited {
		t.Errorf("nil Rate() = %v, %v", r, limited)
	}
}

func TestPauseForEveryoneThenRate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var shrunk []float64
		var mu sync.Mutex
		b := limit(t, 10, 3, 2*time.Second)
		b.Shrunk = func(r float64) { mu.Lock(); shrunk = append(shrunk, r); mu.Unlock() }
		if r, limited := b.Rate(); !limited || r != 0 {
			t.Fatalf("Rate() during the first pause = %v, %v; want 0, true", r, limited)
		}
		calls := []*call{start(t.Context(), b, "gen_a"), start(t.Context(), b, "gen_b")}
		queued(t, b, 2)
		advance(2*time.Second - time.Nanosecond)
		queued(t, b, 2) // nobody leaves before Retry-After has passed
		// The bucket is full after the pause: the 3 requests accepted in
		// the second before the 429, so both leave at once.
		advance(time.Nanosecond)
		for _, c := range calls {
			if _, err := c.result(t); err != nil {
				t.Fatal(err)
			}
		}
		if r := rateOf(b); r != 3 {
			t.Errorf("rate after the first pause = %v, want 3 (what the API accepted)", r)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(shrunk, []float64{3}) {
			t.Errorf("Shrunk calls: %v, want one with 3", shrunk)
		}
	})
}

func TestEstimateCountsOnlyTheSecondBefore(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(100)
		read := func(id string) {
			turn, err := b.Wait(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			turn.Read()
		}
		for range 5 {
			read("old") // two seconds before the 429: not counted
		}
		advance(2*time.Second - time.Nanosecond)
		read("edge") // exactly a second before the 429: not counted
		advance(time.Nanosecond)
		inflight, _ := b.Wait(t.Context(), "inflight") // answered after the 429: counted
		read("recent")
		advance(time.Second - time.Nanosecond)
		read("last")
		for _, id := range []string{"refused", "refused_too"} {
			turn, _ := b.Wait(t.Context(), id)
			turn.Refused(time.Second)
		}
		inflight.Read()
		c := start(t.Context(), b, "gen_a")
		queued(t, b, 1)
		advance(time.Second)
		c.result(t)
		if r := rateOf(b); r != 3 {
			t.Errorf("rate = %v, want 3: the reads sent in the second before the first 429", r)
		}
	})
}

func TestOldestReadGoesFirst(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second) // rate 1: one turn a second
		// The history: gen_c read long ago, gen_b more recently, gen_a never.
		for _, id := range []string{"gen_c", "gen_b"} {
			c := start(t.Context(), b, id)
			queued(t, b, 1)
			advance(time.Second)
			turn, _ := c.result(t)
			turn.Read()
			one(b)
		}
		// They ask in the opposite order of who should go first.
		order := turnOrder(t, b, "gen_b", "gen_c", "gen_a")
		if want := []string{"gen_a", "gen_c", "gen_b"}; !slices.Equal(order, want) {
			t.Errorf("turns in order %v, want %v: never read, then oldest read first", order, want)
		}
	})
}

// turnOrder queues a request for each id, in that order, then lets one
// turn go each second and returns the order the turns went in.
func turnOrder(t *testing.T, b *Budget, ids ...string) []string {
	t.Helper()
	var calls []*call
	for _, id := range ids {
		calls = append(calls, start(t.Context(), b, id))
		queued(t, b, len(calls))
	}
	var order []string
	for range calls {
		order = append(order, next(t, b, time.Second, calls).id)
		one(b)
	}
	return order
}

// TestNoStarvation: many generations sharing a budget far below their
// cadence each get a turn in every round, whoever asks first.
func TestNoStarvation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second)
		const gens, rounds = 5, 4
		var calls []*call
		for i := range gens {
			calls = append(calls, start(t.Context(), b, fmt.Sprintf("gen_%d", i)))
			queued(t, b, i+1)
		}
		count := map[string]int{}
		for range gens * rounds {
			got := next(t, b, time.Second, calls)
			turn, _ := got.result(t)
			turn.Read()
			one(b)
			count[got.id]++
			// The generation read just now asks again at once: it must wait
			// for every other one.
			i := slices.Index(calls, got)
			calls[i] = start(t.Context(), b, got.id)
			queued(t, b, gens)
		}
		for i := range gens {
			if n := count[fmt.Sprintf("gen_%d", i)]; n != rounds {
				t.Errorf("gen_%d got %d turns in %d rounds: %v", i, n, rounds, count)
			}
		}
	})
}

func TestCancelWhileQueued(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second)
		cause := errors.New("the job was cancelled")
		ctx, cancel := context.WithCancelCause(t.Context())
		gone := start(ctx, b, "gen_a")
		queued(t, b, 1)
		other := start(t.Context(), b, "gen_b")
		queued(t, b, 2)
		cancel(cause)
		if _, err := gone.result(t); !errors.Is(err, cause) {
			t.Errorf("Wait = %v, want the context's cause", err)
		}
		queued(t, b, 1)
		advance(time.Second)
		if _, err := other.result(t); err != nil {
			t.Errorf("the other request: %v", err)
		}
	})
}

// A request whose context has ended by the time its turn is handed out
// may return either; whichever it returns, the queue of the others is
// left alone.
func TestCancelledAsItsTurnComes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second) // rate 1/s, burst 1
		advance(time.Second)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		// Each round, the bucket holds one token again, so the cancelled
		// request is granted its turn at once, and its select then sees both
		// its turn and its context's end.
		for i := range 200 {
			_, err := b.Wait(ctx, "gen_a")
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("round %d: Wait = %v", i, err)
			}
			b.mu.Lock()
			n := b.queue.Len()
			b.mu.Unlock()
			if n != 0 {
				t.Fatalf("round %d: %d requests queued, want 0", i, n)
			}
			advance(time.Second)
		}
	})
}

// A panic while handing out turns from the timer's goroutine ends every
// request still waiting with that panic, rather than leaving them waiting
// for ever.
func TestPanicInDispatchEndsEveryWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second) // rate 1/s, burst 1
		b.Shrunk = func(float64) { panic("announcing the rate failed") }
		calls := []*call{start(t.Context(), b, "gen_a")}
		queued(t, b, 1)
		calls = append(calls, start(t.Context(), b, "gen_b"))
		queued(t, b, 2)
		calls = append(calls, start(t.Context(), b, "gen_c"))
		queued(t, b, 3)
		advance(time.Second) // the timer's goroutine estimates, grants one, then panics
		var granted, failed int
		for _, c := range calls {
			_, err := c.result(t)
			var p *crash.Panic
			switch {
			case err == nil:
				granted++
			case errors.As(err, &p):
				failed++
				if p.Value != "announcing the rate failed" {
					t.Errorf("panic value %v", p.Value)
				}
			default:
				t.Errorf("Wait = %v, want nil or a *crash.Panic", err)
			}
		}
		if granted != 1 || failed != 2 {
			t.Errorf("%d granted, %d failed with the panic; want 1 and 2", granted, failed)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if n := b.queue.Len(); n != 0 {
			t.Errorf("%d requests still queued", n)
		}
	})
}

func TestPauseAfterDeadlineEndsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var pe *PauseError
		if _, err := b.Wait(ctx, "gen_a"); !errors.As(err, &pe) || pe.Left != time.Hour {
			t.Errorf("Wait = %v, want a *PauseError with an hour left", err)
		}
		start(t.Context(), b, "gen_b") // no deadline: it waits
		queued(t, b, 1)

		// Already waiting when a later 429 moves the pause past the deadline.
		b = limit(t, 100, 1, time.Second)
		waiting := start(ctx, b, "gen_a")
		patient := start(t.Context(), b, "gen_b")
		queued(t, b, 2)
		Turn{b: b, id: "gen_c"}.Refused(2 * time.Hour)
		if _, err := waiting.result(t); !errors.As(err, &pe) || pe.Left != 2*time.Hour {
			t.Errorf("queued Wait = %v, want a *PauseError with 2h left", err)
		}
		queued(t, b, 1)
		if patient.ready() {
			t.Error("the request without a deadline stopped waiting")
		}
		if got, want := pe.Error(), "every request waits 2h0m0s after a 429, which is past the deadline"; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
		for _, tc := range []struct {
			pe   PauseError
			want string
		}{
			{PauseError{Left: 1500 * time.Millisecond, Own: true}, "its generation waits 1.5s after its 429, which is past the deadline"},
			{PauseError{Left: 1 << 62}, "every request waits more than a century after a 429, which is past the deadline"},
			{PauseError{Left: century - time.Hour}, "every request waits 875999h0m0s after a 429, which is past the deadline"},
			{PauseError{Left: century}, "every request waits more than a century after a 429, which is past the deadline"},
		} {
			if got := tc.pe.Error(); got != tc.want {
				t.Errorf("message %q, want %q", got, tc.want)
			}
		}
	})
}

// A pause that ends at the very instant of the deadline leaves the
// request no time to go: it ends at once, for the key's pause and for a
// generation's own, rather than racing its context.
func TestPauseEndingAtTheDeadlineEndsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second)
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(time.Second))
		defer cancel()
		var pe *PauseError
		if _, err := b.Wait(ctx, "gen_a"); !errors.As(err, &pe) || pe.Left != time.Second {
			t.Errorf("Wait = %v with the key's pause ending at the deadline, want a *PauseError with 1s left", err)
		}

		b = New(time.Second, time.Minute)
		b.Add(2)
		turn(t, b, "gen_a").Refused(time.Second) // alone: only gen_a pauses
		ctx, cancel = context.WithDeadline(t.Context(), time.Now().Add(time.Second))
		defer cancel()
		if _, err := b.Wait(ctx, "gen_a"); !errors.As(err, &pe) || pe.Left != time.Second {
			t.Errorf("Wait = %v with its own pause ending at the deadline, want a *PauseError with 1s left", err)
		}
		if _, err := b.Wait(ctx, "gen_b"); err != nil {
			t.Errorf("Wait for another generation = %v, want its turn", err)
		}
	})
}

// A request that arrives at the very instant the pause ends is not told
// that the pause outlasts its deadline: nothing is left of the pause.
func TestNoPauseErrorWhenThePauseHasJustEnded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second)
		advance(time.Second) // now == the end of the pause
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := b.Wait(ctx, "gen_a")
		var pe *PauseError
		if errors.As(err, &pe) {
			t.Errorf("Wait = %v at the end of the pause, want no *PauseError", err)
		}
	})
}

func TestBackoffWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, 4*time.Second)
		b.Add(100)
		pauses := []time.Duration{} // of a submit's 429s: the key's at once
		for range 5 {
			// Not a probe after a pause: a probe refused at once pauses
			// longer, by a random extra (TestRandomExtraIsAPartOfPollInterval).
			skipOpening(b)
			turn, err := b.Wait(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			turn.Refused(0)
			b.mu.Lock()
			pauses = append(pauses, b.pause.Sub(time.Now()))
			b.mu.Unlock()
			advance(time.Hour)
		}
		if want := []time.Duration{1, 2, 4, 4, 4}; !slices.Equal(pauses, scale(want, time.Second)) {
			t.Errorf("pauses %v, want %v seconds: doubling from poll_interval, capped", pauses, want)
		}
		turn, _ := b.Wait(t.Context(), "")
		turn.Read()
		advance(time.Hour)
		turn, _ = b.Wait(t.Context(), "")
		turn.Refused(0)
		b.mu.Lock()
		defer b.mu.Unlock()
		if p := b.pause.Sub(time.Now()); p != time.Second {
			t.Errorf("pause after a read = %v, want 1s again", p)
		}
	})
}

func scale(ds []time.Duration, unit time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d * unit
	}
	return out
}

func TestCeilingUsesTheInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(2*time.Second, time.Minute)
		b.Add(8) // 8 generations every 2s: 4 requests a second
		for range 10 {
			turn, _ := b.Wait(t.Context(), "ok")
			turn.Read()
		}
		for _, id := range []string{"refused", "refused_too"} {
			turn, _ := b.Wait(t.Context(), id)
			turn.Refused(time.Second)
		}
		b.Add(0) // during the first pause: nothing to cap yet
		if r, limited := b.Rate(); r != 0 || !limited {
			t.Errorf("Rate() during the first pause = %v, %v", r, limited)
		}
		if armed(b) {
			t.Error("a timer armed with nobody waiting")
		}
		c := start(t.Context(), b, "gen_a")
		queued(t, b, 1)
		advance(time.Second)
		c.result(t)
		if r := rateOf(b); r != 4 {
			t.Errorf("rate = %v, want 4: the 10 accepted, capped to 8 generations ÷ 2s", r)
		}
	})
}

func TestEqualsGoInArrivalOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 1, time.Second)
		order := turnOrder(t, b, "gen_x", "gen_y", "gen_z") // never read, all three
		if want := []string{"gen_x", "gen_y", "gen_z"}; !slices.Equal(order, want) {
			t.Errorf("turns in order %v, want %v", order, want)
		}
	})
}

// TestTurnsAtTheRate: after the pause, a burst of one second's worth,
// then one turn each 1/rate, counted from the tokens left.
func TestTurnsAtTheRate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 4, time.Second) // 4 a second, burst 4
		var calls []*call
		for i := range 5 {
			calls = append(calls, start(t.Context(), b, fmt.Sprintf("gen_%d", i)))
			queued(t, b, i+1)
		}
		advance(time.Second)
		queued(t, b, 1) // the burst: four at once
		advance(250*time.Millisecond - time.Nanosecond)
		queued(t, b, 1)
		advance(time.Nanosecond)
		queued(t, b, 0) // the fifth, a quarter second later
		for _, c := range calls {
			c.result(t)
		}
		advance(100 * time.Millisecond) // 0.4 of a token
		last := start(t.Context(), b, "gen_5")
		queued(t, b, 1)
		advance(150*time.Millisecond - time.Nanosecond)
		queued(t, b, 1)
		advance(time.Nanosecond)
		if _, err := last.result(t); err != nil {
			t.Fatal(err)
		}
	})
}

// When the bucket is empty, the next turn comes exactly when a whole token
// has come back, not before and not in a string of tiny wake-ups: in a
// bubble, time jumps straight to it.
func TestNextTurnWhenATokenIsBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		accepted int
		want     time.Duration // after the end of the pause, for the turn after the burst
	}{
		{"one a second", 1, time.Second},            // 1 accepted: 1/s, burst 1
		{"two a second", 2, 500 * time.Millisecond}, // 2 accepted: 2/s, burst 2: the third turn
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				epoch := time.Now()
				b := New(time.Second, time.Minute)
				b.Add(100)
				for range tt.accepted {
					turn, err := b.Wait(t.Context(), "ok")
					if err != nil {
						t.Fatal(err)
					}
					turn.Read()
				}
				for _, id := range []string{"refused", "refused_too"} {
					turn, _ := b.Wait(t.Context(), id)
					turn.Refused(time.Second)
				}
				skipOpening(b) // the bucket's turns, not the opening's
				end := epoch.Add(time.Second)
				for range tt.accepted { // the full bucket, at the end of the pause
					if _, err := b.Wait(t.Context(), "gen_a"); err != nil {
						t.Fatal(err)
					}
				}
				if got := time.Now(); !got.Equal(end) {
					t.Fatalf("the bucket's turns came at %v, want %v", got.Sub(epoch), time.Second)
				}
				got, err := b.Wait(t.Context(), "gen_b") // the bubble's clock moves on to it
				if err != nil {
					t.Fatal(err)
				}
				if !got.at.Equal(end.Add(tt.want)) {
					t.Errorf("next turn %v after the pause, want %v", got.at.Sub(end), tt.want)
				}
			})
		})
	}
}

// TestEveryLateWaiterEndsAtOnce: several waiters past the deadline of a
// new pause, anywhere in the queue, all end at once; removing one from the
// heap must not make the loop skip another.
func TestEveryLateWaiterEndsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for late := 1; late < 1<<7; late++ { // every choice among seven waiters
			b := limit(t, 100, 1, time.Second)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			// Asked long ago in this order make the heap [1 5 2 6 7 3 4]:
			// removing the 6 moves the 4 up, past where a loop by index is.
			b.mu.Lock()
			for i, k := range []int{1, 5, 2, 6, 7, 3, 4} {
				b.asked[fmt.Sprintf("gen_%d", i)] = time.Unix(int64(k), 0)
			}
			b.mu.Unlock()
			var calls []*call
			for i := range 7 {
				c := t.Context()
				if late&(1<<i) != 0 {
					c = ctx
				}
				calls = append(calls, start(c, b, fmt.Sprintf("gen_%d", i)))
				queued(t, b, i+1) // in this order
			}
			queued(t, b, 7)
			Turn{b: b, id: "gen_x"}.Refused(2 * time.Hour)
			for i, c := range calls {
				if late&(1<<i) == 0 {
					continue
				}
				var pe *PauseError
				if _, err := c.result(t); !errors.As(err, &pe) {
					t.Fatalf("late set %07b: waiter %d: %v, want a *PauseError at once", late, i, err)
				}
			}
			cancel()
		}
	})
}

// turn waits for id's turn, failing the test on an error.
func turn(t *testing.T, b *Budget, id string) Turn {
	t.Helper()
	turn, err := b.Wait(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return turn
}

func TestFirstRateIsWhatTheAPIAcceptedCappedByTheCadence(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 4, 10, time.Second) // the cadence needs 4/s; 10 were accepted
		turn(t, b, "gen_a")
		if r := rateOf(b); r != 4 {
			t.Errorf("rate = %v, want 4: the cadence's, below the 10 accepted", r)
		}
		b = limit(t, 100, 3, time.Second)
		turn(t, b, "gen_a")
		if r := rateOf(b); r != 3 {
			t.Errorf("rate = %v, want 3: what the API accepted", r)
		}
	})
}

// When the API accepted nothing before its first 429, the rate after the
// pause is the cadence's own, with one second's worth of burst: a long
// Retry-After pauses the run, it does not leave it slow afterwards.
func TestNothingAcceptedStartsAtTheCadence(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 6, 0, 3*time.Second)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() { turn(t, b, fmt.Sprintf("gen_%d", i)) })
		}
		wg.Wait()
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("six requests left %v after the 429, want all at once when its Retry-After of 3s ended", got)
		}
		if r := rateOf(b); r != 6 {
			t.Errorf("rate = %v, want 6: six generations every second", r)
		}
	})
}

// One storm, every 429 until the next accepted request, shrinks the rate
// once, to 0.7 of it: requests sent together at that rate do not shrink
// it again, nor one sent before the decrease; one sent after the storm's
// pause and still refused does, since the storm outlasted its pause.
func TestShrunkOncePerStorm(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 8, 8, time.Second) // 8/s, the cadence's: reads do not raise it
		stale := Turn{b: b, id: "stale"} // sent before the first 429
		a, c := turn(t, b, "gen_a"), turn(t, b, "gen_b")
		a.Refused(time.Second)
		if r := rateOf(b); !near(r, 5.6) {
			t.Fatalf("rate after a 429 = %v, want 5.6", r)
		}
		c.Refused(time.Second) // sent with it: the same storm
		stale.Refused(time.Second)
		if r := rateOf(b); !near(r, 5.6) {
			t.Errorf("rate after more 429s of that storm = %v, want still 5.6", r)
		}
		// Sent after its pause, the storm goes on, and nothing was
		// accepted in the last second: one request per poll_interval.
		turn(t, b, "gen_c").Refused(time.Second)
		if r := rateOf(b); !near(r, 1) {
			t.Errorf("rate after a 429 past the storm's pause = %v, want 1", r)
		}
		turn(t, b, "gen_d").Read() // additive: + (8/8)/rate
		want := 1 + 1/1.0
		if r := rateOf(b); !near(r, want) {
			t.Fatalf("rate after a read = %v, want %v", r, want)
		}
		e, f := turn(t, b, "gen_e"), turn(t, b, "gen_f")
		stale.Refused(time.Second) // a new storm, but sent before the decreases
		if r := rateOf(b); !near(r, want) {
			t.Errorf("rate after a stale 429 = %v, want still %v", r, want)
		}
		e.Refused(time.Second)
		f.Refused(time.Second)
		// 0.7 × 2, but one read accepted in the last second: 1.
		if r := rateOf(b); !near(r, 1) {
			t.Errorf("rate after two fresh 429s of the storm the stale one began = %v, want 1", r)
		}
	})
}

func TestFloor(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, 1500*time.Millisecond)
		b.Add(1)
		turn(t, b, "").Refused(time.Second)
		for range 12 { // storm after storm
			turn(t, b, "gen_a").Read()
			turn(t, b, "gen_a").Refused(time.Second)
		}
		if r := rateOf(b); !near(r, 1/1.5) {
			t.Errorf("rate = %v, want the floor of one request per max step (1/1.5s)", r)
		}
	})
}

// While requests are accepted the rate doubles each second's worth of
// reads, up to the last rate that drew no 429; above it, it grows by an
// eighth of the first rate each second; never above the ceiling.
func TestGrowsBackFastThenAdditively(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 4, time.Second) // 4/s; increase 4/8 = 1/2 per s
		turn(t, b, "gen_a").Read()
		if r := rateOf(b); r != 4 {
			t.Fatalf("rate after a read at the end of the pause = %v, want 4", r)
		}
		time.Sleep(500 * time.Millisecond)
		turn(t, b, "gen_a").Read()
		if r := rateOf(b); !near(r, 4*math.Sqrt2) {
			t.Fatalf("rate after half a second of reads = %v, want 4√2", r)
		}
		time.Sleep(500 * time.Millisecond)
		turn(t, b, "gen_a").Read()
		if r := rateOf(b); !near(r, 8) {
			t.Fatalf("rate after a second of reads = %v, want 8: doubled", r)
		}
		time.Sleep(time.Minute)
		turn(t, b, "gen_a").Read()
		if r := rateOf(b); !near(r, 16) {
			t.Fatalf("rate after a read a minute later = %v, want 16: doubled once", r)
		}
		turn(t, b, "gen_b").Read()
		// 16 drew a 429, with 2 reads accepted in the last second: 2, not
		// 0.7 × 16, from now on (TestShrunkOncePerStorm has the 0.7).
		turn(t, b, "gen_c").Refused(time.Second)
		if r := rateOf(b); !near(r, 2) {
			t.Fatalf("rate after a 429 = %v, want 2, what the API accepted in the last second", r)
		}
		turn(t, b, "gen_a").Read()
		if r := rateOf(b); !near(r, 2+0.5/2) {
			t.Errorf("rate after a read = %v, want 2 + 0.5/2: additive after a storm", r)
		}
		b.Add(-98)
		if r, limited := b.Rate(); r != 2 || !limited {
			t.Errorf("Rate() with 2 pending = %v, %v; want 2, still limited: the ceiling falls as generations finish", r, limited)
		}
	})
}

// Once the rate covers the cadence and no 429 has come for two
// poll_intervals (at least 2s), requests leave at once again, waiters
// included; a 429 after that starts a new limited phase.
func TestLeavesTheLimitedPhase(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 2, 2, time.Second)
		turn(t, b, "gen_a").Read()
		if _, limited := b.Rate(); !limited {
			t.Fatal("not limited a second after the 429")
		}
		time.Sleep(time.Second)
		turn(t, b, "gen_a").Read()
		if r, limited := b.Rate(); limited || r != 0 {
			t.Errorf("Rate() 2s after the 429, at the ceiling = %v, %v; want 0, false", r, limited)
		}
		start := time.Now()
		for range 10 {
			turn(t, b, "gen_a").Read()
		}
		if time.Since(start) != 0 {
			t.Errorf("requests waited %v after the limited phase", time.Since(start))
		}
		turn(t, b, "gen_b").Refused(time.Second)
		turn(t, b, "gen_c").Refused(time.Second)
		if _, limited := b.Rate(); !limited {
			t.Error("a new 429 did not start a new limited phase")
		}
	})
}

// A generation refused once keeps its place; refused again in a row, it
// has asked as the others did, and goes behind the one that asked
// longer ago, so that one refused again and again cannot take every turn.
func TestRefusedAgainGoesBehind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		refusals int
		want     []string
	}{{1, []string{"gen_b", "gen_a"}}, {2, []string{"gen_a", "gen_b"}}} {
		synctest.Test(t, func(t *testing.T) {
			b := limit(t, 100, 1, time.Second) // one turn a second
			turn(t, b, "gen_b").Read()         // gen_b asked at 1s
			turn(t, b, "gen_a").Read()         // gen_a at 2s
			for range tc.refusals {            // gen_b at 3s, refused (and at 4s)
				turn(t, b, "gen_b").Refused(time.Nanosecond)
			}
			one(b)
			var order []string
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, id := range []string{"gen_b", "gen_a"} {
				wg.Go(func() {
					turn(t, b, id)
					mu.Lock()
					order = append(order, id)
					mu.Unlock()
				})
				synctest.Wait()
			}
			wg.Wait()
			if !slices.Equal(order, tc.want) {
				t.Errorf("after %d refusals: turns in order %v, want %v", tc.refusals, order, tc.want)
			}
		})
	}
}

// A generation refused again after others were accepted, its previous
// 429 the only one of its storm and no other storm since, is refused on
// its own: only its requests pause, and neither the others nor the rate
// pay for it. A 429 of the key's limit then pauses everyone again.
func TestRefusedOnItsOwnPausesOnlyItself(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 50, time.Second) // the key's limit: "refused"'s 429
		turn(t, b, "ok_0").Read()
		turn(t, b, "gen_x").Refused(time.Second) // a storm of its own
		turn(t, b, "ok_1").Read()
		rate := rateOf(b)
		turn(t, b, "gen_x").Refused(5 * time.Second)
		if r, limited := b.Rate(); r != rate || !limited {
			t.Errorf("Rate() after a lone 429 = %v, %v; want still %v, limited", r, limited, rate)
		}
		start := time.Now()
		turn(t, b, "ok_1").Read()
		if d := time.Since(start); d != 0 {
			t.Errorf("another generation waited %v after a lone 429", d)
		}
		turn(t, b, "gen_x").Read()
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("the refused generation's next request left after %v, want its Retry-After, 5s", d)
		}
		// Refused again, but another generation was refused since: the
		// key's limit, again.
		turn(t, b, "gen_x").Refused(time.Second)
		turn(t, b, "ok_1").Read()
		turn(t, b, "ok_2").Refused(time.Second)
		turn(t, b, "ok_0").Read()
		turn(t, b, "gen_x").Refused(time.Second)
		start = time.Now()
		turn(t, b, "ok_1").Read()
		if d := time.Since(start); d < time.Second {
			t.Errorf("another generation waited %v after a key-wide 429, want its Retry-After, 1s", d)
		}
	})
}

// One 429, while unlimited, pauses only its own generation, for its
// Retry-After: others go on at once, the budget does not limit. A 429 for
// another request then starts the limited phase: every request pauses for
// that 429's Retry-After, and the first generation until its own.
func TestOne429PausesOnlyItsGeneration(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(10)
		turn(t, b, "gen_a").Refused(3 * time.Second)
		if _, limited := b.Rate(); limited {
			t.Fatal("limited after a single 429")
		}
		start := time.Now()
		for range 20 {
			turn(t, b, "gen_b").Read()
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("another generation waited %v", d)
		}
		turn(t, b, "gen_a").Refused(3 * time.Second)
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("the refused generation's next request left after %v, want its Retry-After, 3s", d)
		}
		if _, limited := b.Rate(); limited {
			t.Fatal("limited after a 429s for one generation only")
		}
		time.Sleep(time.Second)
		turn(t, b, "gen_b").Refused(time.Second) // another one: the key's limit
		if _, limited := b.Rate(); !limited {
			t.Fatal("not limited after 429s for two generations")
		}
		start = time.Now()
		turn(t, b, "gen_c")
		if d := time.Since(start); d != time.Second {
			t.Errorf("a third generation waited %v, want 1s: the latest Retry-After, the key's", d)
		}
		turn(t, b, "gen_a")
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("the first generation waited %v, want 2s: until its own Retry-After", d)
		}
	})
}

// The first rate counts the reads accepted in the second before the
// limit's first 429: the lone one that made a generation suspect, not the
// one for another request that proved the key's limit later.
func TestFirstRateCountsFromTheSuspectsRefusal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(10)
		skipOpening(b)
		for range 3 {
			turn(t, b, "gen_a").Read()
		}
		time.Sleep(500 * time.Millisecond)
		turn(t, b, "gen_x").Refused(time.Second) // alone: gen_x is suspect
		for range 5 {
			time.Sleep(100 * time.Millisecond)
			turn(t, b, "gen_b").Read()
		}
		time.Sleep(300 * time.Millisecond)
		turn(t, b, "gen_c").Refused(time.Second) // the key's limit
		turn(t, b, "gen_d")                      // after the pause: the rate is estimated
		if r, _ := b.Rate(); r != 3 {
			t.Errorf("first rate %v, want 3: the reads in the second before gen_x's 429", r)
		}
	})
}

// A generation's own long Retry-After stays its own when the key's limit
// shows later: the generation may have stopped waiting (its pause is past
// the deadline), and it must not hold every other request for as long.
func TestALongOwnPauseDoesNotBecomeTheKeys(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(3)
		turn(t, b, "gen_a").Refused(1000 * time.Second)
		turn(t, b, "gen_b").Read()
		turn(t, b, "gen_b").Refused(time.Second) // the key's limit
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := b.Wait(ctx, "gen_c"); err != nil || time.Since(start) != time.Second {
			t.Errorf("gen_c: %v after %v, want its turn after the key's 1s pause", err, time.Since(start))
		}
		var pe *PauseError
		if _, err := b.Wait(ctx, "gen_a"); !errors.As(err, &pe) {
			t.Errorf("gen_a: %v, want a *PauseError: its own pause is past the deadline", err)
		}
	})
}

// The bucket's burst is what the API accepted at once before the first
// 429, however high the rate grows.
func TestBurstIsWhatTheAPIAccepted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 2, time.Second)
		for range 40 {
			turn(t, b, "gen_a").Read()
		}
		if r := rateOf(b); r < 20 {
			t.Fatalf("rate = %v, want it grown past 20", r)
		}
		time.Sleep(time.Second) // the bucket refills
		start := time.Now()
		for range 3 {
			turn(t, b, "gen_a")
		}
		if d := time.Since(start); d == 0 {
			t.Errorf("three requests left at once after a full second, want a burst of 2")
		}
	})
}

// The limited phase ends no sooner than two poll_intervals (at least 2s)
// after the latest 429: at 3s, 6s; at 500ms, 2s.
func TestQuietIsTwoPollIntervals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ interval, quiet time.Duration }{{3 * time.Second, 6 * time.Second}, {500 * time.Millisecond, 2 * time.Second}} {
		synctest.Test(t, func(t *testing.T) {
			quietAfter(t, tc.interval, tc.quiet)
		})
	}
}

// quietAfter checks that a budget polled every interval leaves its limited
// phase quiet after the 429, not before.
func quietAfter(t *testing.T, interval, quiet time.Duration) {
	t.Helper()
	b := New(interval, time.Minute)
	b.Add(100)
	turn(t, b, "").Refused(time.Second) // a submit's: the key's limit
	time.Sleep(quiet - time.Nanosecond)
	turn(t, b, "gen_a").Read()
	if _, limited := b.Rate(); !limited {
		t.Fatalf("the phase ended before %v without a 429 (poll_interval %v)", quiet, interval)
	}
	time.Sleep(time.Nanosecond)
	turn(t, b, "gen_a").Read()
	if _, limited := b.Rate(); limited {
		t.Errorf("still limited %v after the 429, at the cadence's rate (poll_interval %v)", quiet, interval)
	}
}

// A read of the generation a lone 429 paused clears the suspicion: the
// next 429, for another generation, is again no proof of the key's limit.
func TestReadClearsTheSuspect(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(10)
		turn(t, b, "gen_a").Refused(time.Second)
		turn(t, b, "gen_a").Read()
		turn(t, b, "gen_b").Refused(time.Second)
		if _, limited := b.Rate(); limited {
			t.Error("limited by a 429 for one generation after the other's was read")
		}
	})
}

// Refused again with nothing accepted in between, a generation is not
// refused on its own: the key's limit pauses everyone.
func TestRefusedAgainWithNothingAcceptedIsTheKeys(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limit(t, 100, 50, time.Second)
		turn(t, b, "ok_0").Read()
		x := turn(t, b, "gen_x")
		x.Refused(time.Second) // a storm of its own
		time.Sleep(time.Second)
		turn(t, b, "gen_x").Refused(3 * time.Second) // nothing accepted since
		start := time.Now()
		turn(t, b, "ok_1")
		// The refused request was the first after the key's pause: the
		// pause lasts a random part of poll_interval (1s) longer.
		if d := time.Since(start); d < 3*time.Second || d >= 4*time.Second {
			t.Errorf("another generation waited %v, want the key's pause, 3s, and less than poll_interval more", d)
		}
	})
}

// ready counts the calls that got their turn, once the bubble settled.
func readyCalls(calls []*call) int {
	synctest.Wait()
	n := 0
	for _, c := range calls {
		if c.ready() {
			n++
		}
	}
	return n
}

// A submit answered before any generation is pending does not end the
// opening: the generations' first reads still open one round trip after
// another.
func TestOpeningOutlastsTheSubmit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		turn(t, b, "").Read() // the submit: window 2
		b.Add(5)
		calls := []*call{start(t.Context(), b, "gen_a"), start(t.Context(), b, "gen_b"), start(t.Context(), b, "gen_c")}
		if n := readyCalls(calls); n != 2 {
			t.Errorf("%d first reads left at once after the submit, want 2", n)
		}
		advance(time.Second) // the gate lets the last one go
	})
}

// room sends requests for id until the opening holds one back, and
// returns those that left at once, still in flight; the one held back is
// withdrawn. It stops at 64: nothing holds requests back.
func room(t *testing.T, b *Budget, id string) []Turn {
	t.Helper()
	const most = 64
	var turns []Turn
	for len(turns) < most {
		ctx, cancel := context.WithCancel(t.Context())
		c := start(ctx, b, id)
		synctest.Wait()
		if !c.ready() {
			cancel()
			if _, err := c.result(t); !errors.Is(err, context.Canceled) {
				t.Fatalf("the request held back: Wait = %v, want it cancelled", err)
			}
			return turns
		}
		cancel()
		if c.err != nil {
			t.Fatal(c.err)
		}
		turns = append(turns, c.turn)
	}
	return turns
}

// lose tells the budget each of turns got no answer.
func lose(turns ...Turn) {
	for _, turn := range turns {
		turn.Lost()
	}
}

// The opening's window, request by request: one more for each accepted,
// two fewer for each 429, never fewer than one; Lost frees a place in it
// and counts neither way.
func TestOpeningWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(100)
		check := func(turns []Turn, want int, why string) {
			t.Helper()
			if len(turns) != want {
				t.Fatalf("%d requests left at once, want %d: %s", len(turns), want, why)
			}
		}
		first := room(t, b, "gen_a")
		check(first, 1, "the first goes alone")
		first[0].Read()
		two := room(t, b, "gen_a")
		check(two, 2, "one accepted: a window of 2")
		two[0].Read()
		two[1].Read()
		four := room(t, b, "gen_a")
		check(four, 4, "three accepted: a window of 4")
		four[0].Read()
		lose(four[1:]...)
		five := room(t, b, "gen_a")
		check(five, 5, "four accepted, three lost: a window of 5")
		// 429s for gen_a alone: they pause only gen_a's requests (no
		// limit yet), and each takes two back from the window.
		five[0].Refused(time.Minute)
		lose(five[3:]...)
		third := room(t, b, "gen_b")
		check(third, 1, "four accepted, one refused: a window of 3, two in flight")
		lose(third...)
		five[1].Refused(time.Minute)
		check(room(t, b, "gen_b"), 0, "four accepted, two refused: a window of 1, one in flight")
		five[2].Refused(time.Minute)
		check(room(t, b, "gen_b"), 1, "four accepted, three refused: one may always go")
		if _, limited := b.Rate(); limited {
			t.Error("limited after 429s for one generation only")
		}
	})
}

// The gate is a tenth of poll_interval, counted from the latest request
// that left: each request the window holds leaves a gate after the one
// before when no answer makes room.
func TestGateCountsFromTheLatestRequest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(2*time.Second, time.Minute) // a gate of 200ms
		b.Add(100)
		first := turn(t, b, "gen_a")
		second := start(t.Context(), b, "gen_b")
		queued(t, b, 1)
		third := start(t.Context(), b, "gen_c")
		queued(t, b, 2)
		advance(200*time.Millisecond - time.Nanosecond)
		queued(t, b, 2)
		advance(time.Nanosecond)
		queued(t, b, 1)
		got, _ := second.result(t)
		if d := got.at.Sub(first.at); d != 200*time.Millisecond {
			t.Errorf("the second request left %v after the first, want a gate, 200ms", d)
		}
		advance(200*time.Millisecond - time.Nanosecond)
		queued(t, b, 1)
		advance(time.Nanosecond)
		got, _ = third.result(t)
		if d := got.at.Sub(first.at); d != 400*time.Millisecond {
			t.Errorf("the third request left %v after the first, want two gates, 400ms", d)
		}
		if armed(b) {
			t.Error("a timer armed with nobody waiting")
		}
	})
}

// Lost counts as neither accepted nor refused: the window stays one
// request wide. It is safe on a nil budget's turns.
func TestLostOpensNoWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(100)
		first := turn(t, b, "gen_a")
		first.Lost()
		second := room(t, b, "gen_b")
		if len(second) != 1 {
			t.Fatalf("%d requests left after a lost one, want 1: a lost request opens no window", len(second))
		}
		second[0].Lost()
		if n := len(room(t, b, "gen_c")); n != 1 {
			t.Errorf("%d left after two lost requests, want 1", n)
		}
		Turn{}.Lost()
		var nb *Budget
		nt, _ := nb.Wait(t.Context(), "gen_a")
		nt.Lost()
	})
}

// A turn answered when nothing is counted in flight (a network error
// told twice) leaves the window as it is: never fewer than nothing in
// flight.
func TestAnswerWithNothingInFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(100)
		first := turn(t, b, "gen_a")
		first.Lost()
		first.Lost() // told twice
		if n := len(room(t, b, "gen_b")); n != 1 {
			t.Errorf("%d requests left at once, want 1: the window is one, nothing in flight", n)
		}
	})
}

// Any answer makes room in the window at once for a request it holds: a
// read, a 429 (from one request, which takes two back: the window is at
// its floor of one here), or a lost request.
func TestEveryAnswerMakesRoom(t *testing.T) {
	t.Parallel()
	answers := map[string]func(Turn){
		"read":    Turn.Read,
		"refused": func(t Turn) { t.Refused(time.Second) },
		"lost":    Turn.Lost,
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := New(time.Second, time.Minute)
				b.Add(100)
				first := turn(t, b, "gen_a")
				held := start(t.Context(), b, "gen_b")
				queued(t, b, 1)
				answer(first)
				if got, err := held.result(t); err != nil || !got.at.Equal(first.at) {
					t.Errorf("the held request: %v, %v after the answer; want its turn at once", err, got.at.Sub(first.at))
				}
			})
		})
	}
}

// The opening ends on the answer that makes the window hold every
// pending generation, counted then: from that answer on, requests leave
// at once, however many are in flight, also those sent through the gate
// beyond the window.
func TestOpeningEndsOnTheAnswer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(3)
		turn(t, b, "gen_a").Read() // a window of 2
		two := room(t, b, "gen_a")
		if len(two) != 2 {
			t.Fatalf("%d requests left at once, want 2 while opening", len(two))
		}
		two[0].Read() // a window of 3: every pending generation
		if n := len(room(t, b, "gen_a")); n != 64 {
			t.Errorf("%d requests left at once, want as many as were sent once the window holds the 3 generations", n)
		}
		lose(two[1]) // answered after the opening: changes nothing
		if n := len(room(t, b, "gen_a")); n != 64 {
			t.Errorf("%d requests left at once after the opening, want as many as were sent", n)
		}

		// The pending generations are counted when an answer comes.
		b = New(time.Second, time.Minute)
		b.Add(100)
		turn(t, b, "gen_a").Read() // a window of 2
		b.Add(-98)
		two = room(t, b, "gen_a")
		if len(two) != 2 {
			t.Errorf("%d requests left at once, want 2: no answer since 2 are pending", len(two))
		}
		two[0].Read()
		if n := len(room(t, b, "gen_a")); n != 64 {
			t.Errorf("%d requests left at once after an answer with 2 pending, want as many as were sent", n)
		}

		// More in flight than the window, sent through the gate.
		b = New(time.Second, time.Minute)
		b.Add(2)
		first := turn(t, b, "gen_a")
		for range 5 {
			turn(t, b, "gen_a") // a gate (100ms) after the one before
		}
		first.Read() // a window of 2 for 2 generations, 5 in flight
		if n := len(room(t, b, "gen_a")); n != 64 {
			t.Errorf("%d requests left at once after the opening with more in flight than its window, want as many as were sent", n)
		}
	})
}

// After a key-wide pause, in the limited phase too, the window holds the
// requests the bucket would let go: the probe first, one more for it
// once accepted, and one each gate without an answer.
func TestOpeningAfterAPauseHoldsTheBucketsTurns(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := limitEvery(t, time.Second, 100, 5, time.Second) // 5 a second, burst 5
		var calls []*call
		for i := range 5 {
			calls = append(calls, start(t.Context(), b, fmt.Sprintf("gen_%d", i)))
			queued(t, b, i+1)
		}
		advance(time.Second)
		queued(t, b, 4) // one first
		probe, _ := calls[0].result(t)
		probe.Read()
		queued(t, b, 2) // two in flight: the window of 2
		advance(100*time.Millisecond - time.Nanosecond)
		queued(t, b, 2) // the bucket has tokens; the window holds them
		advance(time.Nanosecond)
		queued(t, b, 1) // a gate after the latest
		advance(100 * time.Millisecond)
		queued(t, b, 0)
		for _, c := range calls {
			if _, err := c.result(t); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A first 429, while unlimited, pauses only its generation: it does not
// start the opening again. The key's limit does.
func TestOneLone429DoesNotOpenAgain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute)
		b.Add(3)
		turn(t, b, "gen_a").Read()
		turn(t, b, "gen_a").Read() // a window of 3 for 3 generations: open
		turn(t, b, "gen_a").Refused(time.Second)
		if n := len(room(t, b, "gen_b")); n != 64 {
			t.Errorf("%d requests left at once after a lone 429, want as many as were sent", n)
		}
		turn(t, b, "gen_c").Refused(time.Second) // another generation's: the key's limit
		time.Sleep(time.Second)
		if n := len(room(t, b, "gen_b")); n != 1 {
			t.Errorf("%d requests left at once after the key's pause, want 1", n)
		}
	})
}

// pauseLeft is how long b's key-wide pause still lasts.
func pauseLeft(b *Budget) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pause.Sub(time.Now())
}

// The random extra after a refused probe is drawn from [0, poll_interval)
// (here 2s: not a fixed second), spread over it, and pauses every
// request. The first pause of a run has none, also with nothing accepted
// before it; neither has a 429 once the probe was accepted.
func TestRandomExtraIsAPartOfPollInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const interval, retryAfter = 2 * time.Second, time.Second
		lo, hi := interval, time.Duration(0)
		for range 200 {
			b := limitEvery(t, interval, 100, 10, retryAfter) // a burst of 10: tokens left after the pause
			if d := pauseLeft(b); d != retryAfter {
				t.Fatalf("the run's first pause lasts %v, want its Retry-After, %v", d, retryAfter)
			}
			advance(retryAfter)
			turn(t, b, "gen_a").Refused(retryAfter) // the probe
			d := pauseLeft(b)
			if d < retryAfter || d >= retryAfter+interval {
				t.Fatalf("pause after a refused probe = %v, want [%v, %v)", d, retryAfter, retryAfter+interval)
			}
			lo, hi = min(lo, d-retryAfter), max(hi, d-retryAfter)
			c := start(t.Context(), b, "gen_b")
			queued(t, b, 1)
			advance(d - time.Nanosecond)
			queued(t, b, 1) // the extra pauses every request
			advance(time.Nanosecond)
			c.result(t)
		}
		if lo > interval/4 || hi < interval*3/4 {
			t.Errorf("extras from %v to %v in 200 draws, want spread over [0, %v)", lo, hi, interval)
		}

		b := limitEvery(t, interval, 100, 1, retryAfter)
		advance(retryAfter)
		turn(t, b, "gen_a").Read() // the probe, accepted
		turn(t, b, "gen_b").Refused(retryAfter)
		if d := pauseLeft(b); d != retryAfter {
			t.Errorf("pause after a 429 with the probe accepted = %v, want the Retry-After, %v", d, retryAfter)
		}

		b = limitEvery(t, interval, 100, 0, retryAfter)
		if d := pauseLeft(b); d != retryAfter {
			t.Errorf("the run's first pause, nothing accepted, lasts %v, want its Retry-After, %v", d, retryAfter)
		}
	})
}

// A storm shrinks the rate to 0.7 of it, or to what the API accepted of
// the requests sent in the last second (from a second ago on) when that
// is less, but not below one request each poll_interval then.
func TestDecreaseToWhatWasAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reads int
		since time.Duration // from the reads to the 429
		want  float64
	}{
		{"more accepted than 0.7 of the rate", 40, 0, 35},
		{"fewer accepted", 10, 0, 10},
		{"fewer, sent a second before", 10, time.Second, 10},
		{"fewer, sent more than a second before", 10, time.Second + time.Nanosecond, 0.5},
		{"none accepted", 0, 0, 0.5}, // the first storm, outlasting its pause
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				// Every 2s: one request each poll_interval is 1/2s, above
				// the floor of one per max step, 1/min.
				b := limitEvery(t, 2*time.Second, 100, 50, 2*time.Second) // 50/s, burst 50
				// The 50 reads before the 429 are out of the last second.
				advance(2 * time.Second)
				for range tc.reads {
					turn(t, b, "ok").Read()
				}
				if r := rateOf(b); tc.reads > 0 && !near(r, 50) {
					t.Fatalf("rate = %v before the storm, want 50", r)
				}
				time.Sleep(tc.since)
				turn(t, b, "gen_x").Refused(time.Second)
				if r := rateOf(b); !near(r, tc.want) {
					t.Errorf("rate after the storm = %v, want %v", r, tc.want)
				}
			})
		})
	}
}

// Below one request each poll_interval already, a storm with nothing
// accepted in the last second shrinks the rate to 0.7 of it: the floor
// of the decrease to what was accepted never raises the rate.
func TestDecreaseNeverRaisesTheRate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(time.Second, time.Minute) // floor 1/min
		b.Add(1)
		turn(t, b, "").Refused(time.Second)
		for range 3 { // as TestFloor: down below one a second
			turn(t, b, "gen_a").Read()
			turn(t, b, "gen_a").Refused(time.Second)
		}
		before := rateOf(b)
		if before >= 1 {
			t.Fatalf("rate = %v, want below one a second", before)
		}
		// The storm outlasts its pause: the request after it is refused
		// too, nothing accepted in the last second.
		turn(t, b, "gen_b").Refused(time.Second)
		if r := rateOf(b); !near(r, 0.7*before) {
			t.Errorf("rate after a 429 with nothing accepted = %v, want 0.7 × %v", r, before)
		}
	})
}

// BUG: the random extra is meant for the first request sent after a
// pause ("When that one is refused at once"), but any request of an
// opening refused after a pause began gets it, also one sent before any
// pause: three requests of the run's first opening in flight, all
// refused, and the run's first pause already lasts a random part of
// poll_interval longer than the Retry-After.
func TestFirstPauseHasNoExtraWithRequestsInFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for range 20 {
			b := New(time.Second, time.Minute)
			b.Add(10)
			turn(t, b, "ok").Read()
			turn(t, b, "ok").Read() // a window of 3
			x, y, z := turn(t, b, "gen_a"), turn(t, b, "gen_b"), turn(t, b, "gen_c")
			x.Refused(time.Second) // gen_a's alone
			y.Refused(time.Second) // another generation's: the key's limit, the run's first pause
			z.Refused(time.Second) // sent with them, before that pause
			if d := pauseLeft(b); d != time.Second {
				t.Fatalf("the run's first pause lasts %v, want its Retry-After, 1s", d)
			}
		}
	})
}

// BUG: Shrunk is to be called once, when the budget first limits
// requests, with its rate. The rate is estimated by the first dispatch
// after the first pause; Read now dispatches too and drops what
// dispatch returns, so when that dispatch is an answer's (a request sent
// before the pause, answered after it, before any other asks), Shrunk is
// never called.
func TestShrunkWhenAnAnswerEndsTheFirstPause(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var shrunk []float64
		var mu sync.Mutex
		b := New(time.Second, time.Minute)
		b.Shrunk = func(r float64) { mu.Lock(); shrunk = append(shrunk, r); mu.Unlock() }
		b.Add(10)
		turn(t, b, "ok").Read()
		turn(t, b, "ok").Read() // a window of 3
		x, y, late := turn(t, b, "gen_a"), turn(t, b, "gen_b"), turn(t, b, "gen_c")
		x.Refused(time.Second)
		y.Refused(time.Second) // the key's limit: a pause of 1s
		time.Sleep(time.Second)
		late.Read() // after the pause
		turn(t, b, "gen_d").Read()
		mu.Lock()
		defer mu.Unlock()
		if r := rateOf(b); len(shrunk) != 1 || !near(shrunk[0], r) {
			t.Errorf("Shrunk calls: %v, want one with the rate, %v", shrunk, r)
		}
	})
}

// BUG: a request the opening holds waits in the queue for its gate; one
// that asks at the instant the gate ends, before the timer's dispatch
// (in real time: while the timer fires late), takes Wait's fast path
// (the window is not full, the gate is over) and leaves ahead of it, and
// the held one waits a gate more. In a bubble either may run first, so
// the test tries many times: the held one must always go first.
func TestHeldRequestGoesBeforeANewcomer(t *testing.T) {
	t.Parallel()
	for range 100 {
		synctest.Test(t, func(t *testing.T) {
			b := New(time.Second, time.Minute)
			b.Add(10)
			turn(t, b, "gen_a")
			held := start(t.Context(), b, "gen_b")
			queued(t, b, 1)
			newcomer := make(chan Turn, 1)
			go func() {
				time.Sleep(100 * time.Millisecond) // the gate
				newcomer <- turn(t, b, "gen_c")
			}()
			advance(100 * time.Millisecond)
			if !held.ready() {
				t.Fatal("a newcomer left at the end of the gate, and the held request waits a gate more")
			}
			<-newcomer
		})
	}
}

// Without a poll_interval (0) there is no random extra to draw: a probe
// refused after a pause pauses for its Retry-After, and does not panic.
func TestNoExtraWithoutAPollInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := New(0, time.Minute)
		b.Add(1)
		turn(t, b, "gen_a").Refused(time.Second)
		turn(t, b, "gen_b").Refused(time.Second) // the key's pause
		advance(time.Second)
		turn(t, b, "gen_a").Refused(time.Second) // the probe, refused
		if d := pauseLeft(b); d != time.Second {
			t.Errorf("pause after a refused probe without a poll_interval = %v, want its Retry-After, 1s", d)
		}
	})
}

package budget

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/clock"
	"github.com/prism-wait/prism-wait/internal/crash"
)

// A request that arrives at the very instant the pause ends is not told
// that the pause outlasts its deadline: nothing is left of the pause.
func TestNoPauseErrorWhenThePauseHasJustEnded(t *testing.T) {
	t.Parallel()
	b, clk := limit(t, 100, 1, time.Second)
	clk.Advance(time.Second) // now == the end of the pause
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := b.Wait(ctx, "gen_a")
	var pe *PauseError
	if errors.As(err, &pe) {
		t.Errorf("Wait = %v at the end of the pause, want no *PauseError", err)
	}
}

// When the bucket is empty, the next turn comes exactly when a whole token
// has come back, not before and not in a string of tiny wake-ups: on an
// automatic clock, time jumps straight to it.
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
			clk := clock.NewAuto(epoch)
			b := New(clk, time.Second, time.Minute)
			b.Add(100)
			for range tt.accepted {
				turn, err := b.Wait(t.Context(), "ok")
				if err != nil {
					t.Fatal(err)
				}
				turn.Read()
			}
			turn, _ := b.Wait(t.Context(), "refused")
			turn.Refused(time.Second)
			end := epoch.Add(time.Second)
			for range tt.accepted { // the full bucket, at the end of the pause
				if _, err := b.Wait(t.Context(), "gen_a"); err != nil {
					t.Fatal(err)
				}
			}
			if got := clk.Now(); !got.Equal(end) {
				t.Fatalf("the bucket's turns came at %v, want %v", got.Sub(epoch), time.Second)
			}
			c := start(t.Context(), b, "gen_b")
			got, err := c.result(t)
			if err != nil {
				t.Fatal(err)
			}
			if !got.at.Equal(end.Add(tt.want)) {
				t.Errorf("next turn %v after the pause, want %v", got.at.Sub(end), tt.want)
			}
		})
	}
}

// A panic while handing out turns from the timer's goroutine ends every
// request still waiting with that panic, rather than leaving them waiting
// for ever.
func TestPanicInDispatchEndsEveryWait(t *testing.T) {
	t.Parallel()
	b, clk := limit(t, 100, 1, time.Second) // rate 1/s, burst 1
	b.Shrunk = func(float64) { panic("announcing the rate failed") }
	calls := []*call{start(t.Context(), b, "gen_a")}
	queued(t, b, 1)
	calls = append(calls, start(t.Context(), b, "gen_b"))
	queued(t, b, 2)
	calls = append(calls, start(t.Context(), b, "gen_c"))
	queued(t, b, 3)
	clk.Advance(time.Second) // the timer's goroutine estimates, grants one, then panics
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
}

// A request whose context has ended by the time its turn is handed out
// may return either; whichever it returns, the queue of the others is
// left alone.
func TestCancelledAsItsTurnComes(t *testing.T) {
	t.Parallel()
	b, clk := limit(t, 100, 1, time.Second) // rate 1/s, burst 1
	clk.Advance(time.Second)
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
		clk.Advance(time.Second)
	}
}

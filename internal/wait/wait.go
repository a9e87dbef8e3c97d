// Package wait polls generations until each reaches a verdict, the deadline
// passes or the API refuses. Each generation has its own schedule: a steady
// cadence while it is generating, jittered exponential backoff after
// transient errors, and Retry-After honoured whenever the API sends it.
package wait

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/prism-wait/prism-wait/internal/clock"
	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/prism"
)

// ErrDeadline and ErrCanceled are the causes callers give the context they
// pass to All, so that results can say why waiting stopped.
var (
	ErrDeadline = errors.New("timeout reached")
	ErrCanceled = errors.New("the job was cancelled")
	// ErrStopped ends the other generations' waits once one met a
	// permanent error: the step's verdict is decided already.
	ErrStopped = errors.New("stopped after another generation's permanent error")
)

// Result is what is known about one generation when its wait ends.
type Result struct {
	ID  string
	Gen prism.Generation // the last status seen; zero if none
	// Err says why there is no verdict: a permanent *prism.Error, a
	// *crash.Panic, or a context cause (ErrDeadline, ErrCanceled, ErrStopped)
	// with the last trouble seen. It is nil when Gen is final.
	Err error
}

// Event is something worth telling the user about one generation.
type Event struct {
	ID   string
	Kind EventKind
	Gen  prism.Generation // Poll: the status just read
	Err  error            // Retry: the transient error
	Wait time.Duration    // Poll, Retry: until the next request
}

// EventKind tells events apart.
type EventKind int

const (
	Poll  EventKind = iota // a status was read
	Retry                  // a request failed and will be tried again
)

// Waiter polls through a Client. Client, PollInterval and MaxInterval are
// required.
type Waiter struct {
	Client       *prism.Client
	PollInterval time.Duration // cadence while generating; first backoff step
	MaxInterval  time.Duration // cap of the backoff (Retry-After may exceed it)
	// FirstDelay comes before the first read: one PollInterval after a
	// submission, since a generation just created cannot be done yet.
	FirstDelay time.Duration
	Events     func(Event) // called from several goroutines at once; may be nil
	Clock      clock.Clock // nil: the system clock
}

// All waits for every ID at once and returns their results in input order.
// then, if not nil, runs in the generation's own goroutine as soon as its
// wait ends, so a download can start while others are still generating.
// A permanent error for one ID stops the others: the verdict is known.
func (w *Waiter) All(ctx context.Context, ids []string, then func(context.Context, *Result)) []Result {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	results := make([]Result, len(ids))
	// The budget's ceiling follows the generations still waiting.
	w.Client.Budget.Add(len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			results[i].ID = id
			defer crash.Recover(func(p *crash.Panic) { results[i].Err = p })
			done := sync.OnceFunc(func() { w.Client.Budget.Add(-1) })
			defer done() // a panic too: the ceiling must not count it
			results[i] = w.One(ctx, id)
			done()
			var pe *prism.Error
			if errors.As(results[i].Err, &pe) && !pe.Transient {
				stop(ErrStopped)
			}
			if then != nil {
				then(ctx, &results[i])
			}
		})
	}
	wg.Wait()
	return results
}

// One polls a single generation until it is final, ctx ends, or the API
// answers with a permanent error.
func (w *Waiter) One(ctx context.Context, id string) Result {
	clk := clock.Or(w.Clock)
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.PollInterval),
		backoff.WithMaxInterval(w.MaxInterval),
		backoff.WithMaxElapsedTime(0), // the context's deadline bounds the wait
	)
	r := Result{ID: id}
	var trouble error // the last transient error, for the final message
	delay := w.FirstDelay
	for {
		if err := clock.Sleep(ctx, clk, delay); err != nil {
			r.Err = stopped(ctx, r, trouble)
			return r
		}
		g, err := w.Client.Get(ctx, id)
		switch {
		case err == nil:
			b.Reset()
			trouble = nil
			r.Gen = g
			if g.Final() {
				w.emit(Event{ID: id, Kind: Poll, Gen: g})
				return r
			}
			if g.Status == prism.StatusCompleted {
				trouble = errors.New("the API reports completed but gives no usable video_url")
			}
			delay = w.PollInterval
			w.emit(Event{ID: id, Kind: Poll, Gen: g, Wait: delay})
		case ctx.Err() != nil:
			r.Err = stopped(ctx, r, trouble)
			return r
		default:
			var pe *prism.Error
			if !errors.As(err, &pe) || !pe.Transient {
				r.Err = err
				return r
			}
			trouble = err
			if err := PastDeadline(ctx, pe); err != nil {
				r.Err = err
				return r
			}
			delay = w.RetryDelay(b, pe)
			w.emit(Event{ID: id, Kind: Retry, Err: err, Wait: max(delay, pe.RetryAfter)})
		}
	}
}

// RetryDelay is how long to wait before sending again a request that met
// the transient error pe: the next step of b, or Retry-After when longer.
// A 429 is the exception when the client has a budget: the budget already
// holds every request until Retry-After has passed, so the request goes
// back at once to wait for its turn there, keeps its place among the
// generations, and its own backoff does not grow.
func (w *Waiter) RetryDelay(b *backoff.ExponentialBackOff, pe *prism.Error) time.Duration {
	if pe.StatusCode == http.StatusTooManyRequests && w.Client.Budget != nil {
		return 0
	}
	// The jitter can take the backoff half above its cap; clamp it.
	return max(min(b.NextBackOff(), w.MaxInterval), pe.RetryAfter)
}

// PastDeadline is ErrDeadline, at once, when the API asks to be left
// alone until after ctx's deadline: waiting for nothing helps no one.
// Deadlines are wall-clock time, like the context's own.
func PastDeadline(ctx context.Context, pe *prism.Error) error {
	dl, ok := ctx.Deadline()
	if !ok || pe.RetryAfter <= 0 || time.Until(dl) >= pe.RetryAfter {
		return nil
	}
	after := "longer than can be represented"
	if pe.RetryAfter < prism.Forever {
		after = pe.RetryAfter.Round(time.Second).String()
	}
	return fmt.Errorf("%w before the API would answer again (Retry-After %s); last problem: %w", ErrDeadline, after, pe)
}

func (w *Waiter) emit(e Event) {
	if w.Events != nil {
		w.Events(e)
	}
}

// stopped explains why waiting ended before a verdict.
func stopped(ctx context.Context, r Result, trouble error) error {
	cause := context.Cause(ctx)
	switch {
	case trouble != nil:
		return fmt.Errorf("%w; last problem: %w", cause, trouble)
	case r.Gen.Status != "":
		return fmt.Errorf("%w while the generation was %q", cause, r.Gen.Status)
	default:
		return fmt.Errorf("%w before the API answered", cause)
	}
}

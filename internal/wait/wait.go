// Package wait polls generations until each reaches a verdict, the deadline
// passes or the API refuses. Each generation has its own schedule: a steady
// cadence while it is generating, jittered exponential backoff after
// transient errors, and Retry-After honoured whenever the API sends it.
// Submits go through the same retry loop as status reads.
//
// Generations waited for together do not poll in lockstep: each one's
// first gap of the cadence is shorter by its share of poll_interval, so
// their reads spread over the interval, and none is seen later for it.
// After a submit whose answer estimates the latency, reads are sparse
// until 0.8 × that estimate (see Plan), then at the cadence.
package wait

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/prism-wait/prism-wait/internal/budget"
	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/pause"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
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

// Event is something worth telling the user about one generation, or
// about the submit.
type Event struct {
	ID   string // "" for the submit
	Kind EventKind
	Gen  prism.Generation // Poll: the status just read
	Err  error            // Retry, Resubmit: the transient error
	// Wait is the time until the next request. For a Resubmit it is 0
	// when the request budget holds the submit until the API's rate limit
	// allows it.
	Wait time.Duration
}

// EventKind tells events apart.
type EventKind int

const (
	Poll     EventKind = iota // a status was read
	Retry                     // a status read failed and will be tried again
	Resubmit                  // a submit was refused and will be sent again
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
	// Estimate is the typical latency the submit's answer gave, counted
	// from when All is called; 0 for none, and then reads keep the
	// cadence from the start.
	Estimate time.Duration
	// Fresh is how long after All is called a 404 for a generation never
	// read yet is taken for the API not knowing yet an ID its submit just
	// returned (a read after a write): retried like a 5xx, not the end.
	// 0 (IDs given, not submitted): a 404 ends the wait at once.
	Fresh  time.Duration
	Events func(Event) // called from several goroutines at once; may be nil
}

// NotFoundAfterSubmit is the end of a wait for a generation that the
// submit returned and the API still did not know once Fresh had passed.
type NotFoundAfterSubmit struct {
	Err *prism.Error  // the latest 404
	For time.Duration // since the submit
}

func (e *NotFoundAfterSubmit) Error() string {
	return fmt.Sprintf("%v, %s after the submit returned the ID", e.Err, e.For.Round(time.Second))
}

func (e *NotFoundAfterSubmit) Unwrap() error { return e.Err }

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
	start := time.Now()
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			results[i].ID = id
			defer crash.Recover(func(p *crash.Panic) { results[i].Err = p })
			done := sync.OnceFunc(func() { w.Client.Budget.Add(-1) })
			defer done() // a panic too: the ceiling must not count it
			results[i] = w.one(ctx, id, schedule{start: start, phase: float64(i) / float64(len(ids))})
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

// schedule is one generation's place in the reads of a wait.
type schedule struct {
	start time.Time // when the wait began: right after the submit, if any
	// phase is the share of poll_interval by which the first gap is
	// shorter than it would be, so that generations waited for together
	// read at different instants.
	phase float64
}

// gap is how long to wait after a read at now, before the next one.
func (w *Waiter) gap(s *schedule, now time.Time) time.Duration {
	d := max(w.next(now.Sub(s.start))-time.Duration(s.phase*float64(w.PollInterval)), 0)
	s.phase = 0 // the first gap only
	return d
}

// next is the gap after a read at elapsed: PollInterval, or, with an
// Estimate and before 0.8 × it, half the time elapsed, cut to end at 0.8
// × Estimate, but never less than PollInterval (reads never come closer
// together than without an estimate). A generation that ends at t before
// then is seen within max(PollInterval, t/2); from then on, within
// PollInterval, as without an estimate.
func (w *Waiter) next(elapsed time.Duration) time.Duration {
	dense := w.Estimate * 8 / 10 // 0 without an estimate: always past it
	if elapsed >= dense {
		return w.PollInterval
	}
	return max(w.PollInterval, min(elapsed/2, dense-elapsed))
}

// Plan is when the first reads go after a submit with an Estimate, as
// times since the submit: the sparse ones, and from when reads keep the
// cadence. It is nil, 0 without an estimate.
func (w *Waiter) Plan() (sparse []time.Duration, dense time.Duration) {
	if w.Estimate <= 0 || w.PollInterval <= 0 {
		return nil, 0
	}
	dense = w.Estimate * 8 / 10
	for at := w.FirstDelay; at < dense; at += w.next(at) {
		sparse = append(sparse, at)
	}
	return sparse, dense
}

func (w *Waiter) one(ctx context.Context, id string, sched schedule) Result {
	b := w.backoff()
	r := Result{ID: id}
	var trouble error // the last transient error, for the final message
	// fresh is the latest answer when it was a 404 read again because the
	// submit has just returned the ID: a deadline that comes first ends
	// the wait as that, not as a timeout that more time would cure.
	var fresh *prism.Error
	end := func() Result {
		if fresh != nil && errors.Is(context.Cause(ctx), ErrDeadline) {
			r.Err = &NotFoundAfterSubmit{Err: fresh, For: time.Since(sched.start)}
		} else {
			r.Err = stopped(ctx, r, trouble)
		}
		return r
	}
	delay := w.FirstDelay
	for {
		if err := pause.For(ctx, delay); err != nil {
			return end()
		}
		var g prism.Generation
		err := w.retry(ctx, b, func() (err error) {
			g, err = w.Client.Get(ctx, id)
			pe, ok := errors.AsType[*prism.Error](err)
			if err == nil || ok && pe.StatusCode != 0 {
				fresh = nil // an answer: the latest is no longer that 404
			}
			if ok && pe.Meaning() == prism.NotFound && w.Fresh > 0 && r.Gen.Status == "" {
				if since := time.Since(sched.start); since < w.Fresh {
					pe.Transient, fresh = true, pe // not known yet, maybe
				} else {
					err = &NotFoundAfterSubmit{Err: pe, For: since}
				}
			}
			return err
		}, func(err error, pe *prism.Error, delay time.Duration) {
			trouble = err
			w.emit(Event{ID: id, Kind: Retry, Err: err, Wait: max(delay, pe.RetryAfter)})
		})
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
				trouble = ErrNoVideo
			}
			delay = w.gap(&sched, time.Now())
			w.emit(Event{ID: id, Kind: Poll, Gen: g, Wait: delay})
		case ctx.Err() != nil:
			return end()
		default:
			r.Err = err
			return r
		}
	}
}

// Submit sends the submit request. It is sent again only where the API
// certainly did not act on it (prism says which), after Retry-After or a
// backoff step, and not past the deadline; each refusal is a Resubmit
// event.
func (w *Waiter) Submit(ctx context.Context, req prism.SubmitRequest) (prism.Submission, error) {
	var sub prism.Submission
	answered := false // some attempt got an HTTP answer
	err := w.retry(ctx, w.backoff(), func() (err error) {
		sub, err = w.Client.Submit(ctx, req)
		return err
	}, func(err error, pe *prism.Error, delay time.Duration) {
		answered = answered || pe.StatusCode != 0
		w.emit(Event{Kind: Resubmit, Err: err, Wait: delay})
	})
	if i, ok := errors.AsType[*interrupted](err); ok {
		if !answered && i.last.StatusCode == 0 {
			return sub, fmt.Errorf("%w while submitting: %w (the last: %w)", i.cause, ErrUnanswered, i.last)
		}
		return sub, fmt.Errorf("%w while submitting (the last attempt: %w)", i.cause, i.last)
	}
	return sub, err
}

// ErrUnanswered is in the error of a submit that the deadline or a cancel
// cut short before any attempt got an HTTP answer. Such an attempt was
// never written (one that was is an unknown outcome, never retried).
var ErrUnanswered = errors.New("no attempt reached the API")

// ErrNoVideo is the trouble of a wait whose last read said completed but
// gave no usable video_url: it reads again, and a deadline that ends it
// keeps this as its last problem.
var ErrNoVideo = errors.New("the API reports completed but gives no usable video_url")

// ErrNoAnswer is in the error of a wait that ended while its first
// status read was still waiting for an answer, with no trouble before.
var ErrNoAnswer = errors.New("before the API answered")

// retry is the one retry loop, for status reads and submits alike. It
// calls send until it returns anything but a transient *prism.Error (nil
// included), or a Retry-After reaches past ctx's deadline, or ctx ends
// before the next attempt (an *interrupted). Before each new attempt it
// tells retried of the transient error and of the delay it waits.
func (w *Waiter) retry(ctx context.Context, b *backoff.ExponentialBackOff, send func() error, retried func(err error, pe *prism.Error, delay time.Duration)) error {
	for {
		err := send()
		var pe *prism.Error
		if err == nil || !errors.As(err, &pe) || !pe.Transient {
			return err
		}
		if ctx.Err() != nil {
			return &interrupted{cause: context.Cause(ctx), last: pe}
		}
		if err := PastDeadline(ctx, pe); err != nil {
			return err
		}
		delay := w.RetryDelay(b, pe)
		retried(err, pe, delay)
		if err := pause.For(ctx, delay); err != nil {
			return &interrupted{cause: err, last: pe}
		}
	}
}

// interrupted is a retry loop whose context ended before the next attempt,
// after the transient error last.
type interrupted struct {
	cause error
	last  *prism.Error
}

func (i *interrupted) Error() string   { return fmt.Sprintf("%v; last problem: %v", i.cause, i.last) }
func (i *interrupted) Unwrap() []error { return []error{i.cause, i.last} }

// backoff is a fresh schedule of steps after transient errors, from
// PollInterval up to MaxInterval; ctx's deadline bounds the whole wait.
func (w *Waiter) backoff() *backoff.ExponentialBackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.PollInterval),
		backoff.WithMaxInterval(w.MaxInterval),
		backoff.WithMaxElapsedTime(0),
	)
}

// FreshURL is a callback for a download whose signed URL expired: it
// reads r's generation again, once, with the retries and deadline of any
// status read, for a freshly signed video URL. The verdict is never replaced:
// only a fresh URL for the same completed generation is taken from that
// read, and kept in r as the URL that worked.
func (w *Waiter) FreshURL(r *Result) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		// One answer, through transient errors: a generation that the API
		// no longer calls completed with a URL is not polled again until
		// the deadline, in silence.
		var g prism.Generation
		err := w.retry(ctx, w.backoff(), func() (err error) {
			g, err = w.Client.Get(ctx, r.ID)
			return err
		}, func(err error, pe *prism.Error, delay time.Duration) {
			w.emit(Event{ID: r.ID, Kind: Retry, Err: err, Wait: max(delay, pe.RetryAfter)})
		})
		switch {
		case err != nil:
			return "", err
		case !g.Done():
			return "", fmt.Errorf("the API now answers %q without a usable video_url", untrusted.Clip(g.Status, 40))
		}
		r.Gen.VideoURL = g.VideoURL
		return g.VideoURL, nil
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
// alone until ctx's deadline or after it: waiting for nothing helps no
// one. It agrees with the budget, whose pause ending at the deadline is
// past it too: otherwise the request would go back to a budget that
// refuses it again at once, without end.
func PastDeadline(ctx context.Context, pe *prism.Error) error {
	dl, ok := ctx.Deadline()
	if !ok || pe.RetryAfter <= 0 || time.Until(dl) > pe.RetryAfter {
		return nil
	}
	if held := (*budget.PauseError)(nil); errors.As(pe, &held) {
		// Not the API's Retry-After: the budget's pause, which says why.
		return fmt.Errorf("%w: %w", ErrDeadline, pe)
	}
	return &retryPastDeadline{pe}
}

// retryPastDeadline is ErrDeadline before the deadline: the API asked for
// a pause that ends past it.
type retryPastDeadline struct{ pe *prism.Error }

func (e *retryPastDeadline) Error() string {
	after := "longer than can be represented"
	if e.pe.RetryAfter < prism.Forever {
		after = e.pe.RetryAfter.Round(time.Second).String()
	}
	return "the API asks to be left alone past the timeout (Retry-After " + after + "): stopped without waiting; last problem: " + e.pe.Error()
}

func (e *retryPastDeadline) Is(target error) bool { return target == ErrDeadline }
func (e *retryPastDeadline) Unwrap() error        { return e.pe }

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
		return fmt.Errorf("%w while the generation was %q", cause, untrusted.Clip(r.Gen.Status, 40))
	default:
		return fmt.Errorf("%w %w", cause, ErrNoAnswer)
	}
}

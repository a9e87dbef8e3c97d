// Package rerun is the re-run guard: it keeps a submit from being paid for
// twice when a job is re-run. Prism's API has no idempotency key and no
// list endpoint, so the API cannot tell what an earlier attempt of the run
// submitted; the Actions cache can, since its entries outlive an attempt.
//
// Before the POST the guard records an intent entry; right after the
// answer, a submitted entry with the generation IDs. Both are keyed by the
// run, the job, the step and a hash of the request — never the attempt —
// and entries are immutable, so each phase has its own key. On a later
// attempt, a submitted entry means "wait for these, don't submit"; an
// intent without it means "an earlier attempt may have paid".
// docs/rerun-guard.md tells users the same, limits included.
package rerun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/actionscache"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// Modes of the rerun_guard input.
const (
	Auto     = "auto"     // use the cache when it can be used, else warn and submit
	Required = "required" // refuse to submit without the guard
	Off      = "off"      // never touch the cache
)

// Modes lists the accepted rerun_guard values.
var Modes = []string{Auto, Required, Off}

// version is the cache entries' version: it changes when their format does.
var version = func() string {
	h := sha256.Sum256([]byte("prism-wait rerun guard v1"))
	return hex.EncodeToString(h[:])
}()

// maxRounds bounds how many refused submits of one request a run records.
const maxRounds = 10

// Guard guards one submit request of one step of one run.
type Guard struct {
	cache   *actionscache.Client
	secret  untrusted.Scrubber // knows the API key, which no ID may be
	attempt int
	key     string // the key without its round and phase
	// round counts the earlier attempts whose submit the API refused
	// (nothing created): each gets its own pair of keys, since entries
	// are immutable.
	round int
}

// Entry is what a phase's entry holds: the attempt that wrote it, when,
// and (submitted only) the generation IDs, or that the API refused the
// request. Never the key, never URLs.
type Entry struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	IDs     []string  `json:"ids,omitempty"`
	Refused bool      `json:"refused,omitempty"`
	// Lost counts the answer's entries without a plain ID, and
	// LostFailed those of them marked failed: a re-run that waits for the
	// IDs must not call them a success either.
	Lost       int `json:"lost,omitempty"`
	LostFailed int `json:"lost_failed,omitempty"`
}

// RequiredUnmet is the end of a step whose rerun_guard is required when the
// guard cannot be used: Why says why. Nothing was sent.
type RequiredUnmet struct{ Why error }

func (r *RequiredUnmet) Error() string { return "the re-run guard is required, but " + r.Why.Error() }
func (r *RequiredUnmet) Unwrap() error { return r.Why }

// Unavailable is why the guard cannot be used in this run.
type Unavailable struct{ Reason string }

func (u *Unavailable) Error() string { return "the re-run guard cannot be used here: " + u.Reason }

// Open returns the guard for req in this run, from the variables the
// runner passes a Docker action. base and key, the API root and key, are
// part of what makes two requests the same: legs of a matrix that submit
// the same request under different keys (accounts) are told apart. The key
// is only hashed, never stored. It returns an *Unavailable when the run
// has no usable cache service.
func Open(getenv func(string) string, base, key string, req prism.SubmitRequest, transport http.RoundTripper) (*Guard, error) {
	run, job, step := getenv("GITHUB_RUN_ID"), getenv("GITHUB_JOB"), getenv("GITHUB_ACTION")
	attempt, err := strconv.Atoi(strings.TrimSpace(getenv("GITHUB_RUN_ATTEMPT")))
	switch {
	case run == "" || job == "" || step == "":
		return nil, &Unavailable{"GITHUB_RUN_ID, GITHUB_JOB or GITHUB_ACTION is not set (not a GitHub Actions job)"}
	case err != nil || attempt < 1:
		return nil, &Unavailable{"GITHUB_RUN_ATTEMPT is not a number from 1 on"}
	}
	cache, err := actionscache.New(getenv("ACTIONS_RESULTS_URL"), getenv("ACTIONS_RUNTIME_TOKEN"), transport)
	if err != nil {
		return nil, &Unavailable{err.Error()}
	}
	body, err := json.Marshal(req.Body) // maps marshal with sorted keys
	if err != nil {
		return nil, &Unavailable{"cannot hash the submit request: " + err.Error()}
	}
	h := sha256.New()
	for _, part := range []string{base, key, req.TemplateID, string(body)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	prefix := fmt.Sprintf("prism-wait-rerun-guard/%s/%s/%s/%s", segment(run), segment(job), segment(step), hex.EncodeToString(h.Sum(nil))[:32])
	return &Guard{cache: cache, secret: untrusted.New(key), attempt: attempt, key: prefix}, nil
}

// segment makes s safe in a key: letters, digits and ._- only, clipped.
func segment(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), 100)])
}

func (g *Guard) phaseKey(phase string) string { return fmt.Sprintf("%s/%d/%s", g.key, g.round, phase) }

// Prior is what earlier attempts recorded for this request.
type Prior struct {
	Intent    *Entry // an earlier attempt began to submit
	Submitted *Entry // an earlier attempt got the answer: its IDs
	Refused   int    // earlier attempts whose submit the API refused
}

// ErrNoMoreRounds is Check's answer when more earlier attempts had their
// submit refused than the guard keeps records for.
var ErrNoMoreRounds = fmt.Errorf("%d earlier attempts of this run had their submit refused; the re-run guard keeps no more", maxRounds)

// Check reads what earlier attempts recorded. On the first attempt there
// is none to read: an entry found then belongs to another leg of a matrix
// that made the same request, never to this step. A submit the API
// refused (nothing created) is passed over: its attempt may be repeated.
//
// Anything that says an earlier attempt may have paid without saying for
// what is an *Unrecorded: an intent without its answer, a record that
// exists but cannot be read, or a record that several jobs of the run
// made at once (a matrix whose legs send the same request).
func (g *Guard) Check(ctx context.Context) (Prior, error) {
	if g.attempt == 1 {
		return Prior{}, nil
	}
	refused := 0
	for ; g.round < maxRounds; g.round++ {
		if shared, err := g.get(ctx, "shared"); err != nil || shared != nil {
			return Prior{}, g.unrecorded(ctx, shared, err, "several jobs of this run made this same request in a step with the same id, so the record cannot say which generations are this job's")
		}
		sub, err := g.get(ctx, "submitted")
		switch {
		case err != nil:
			return Prior{}, g.unrecorded(ctx, nil, err, "")
		case sub != nil && sub.Refused:
			refused++
			continue
		case sub != nil:
			return Prior{Submitted: sub}, nil
		}
		intent, err := g.get(ctx, "intent")
		if err != nil {
			return Prior{}, g.unrecorded(ctx, nil, err, "")
		}
		return Prior{Intent: intent, Refused: refused}, nil
	}
	return Prior{}, ErrNoMoreRounds
}

// unrecorded makes a read's outcome an *Unrecorded when it shows that an
// earlier attempt left a record that cannot be used; other errors (the
// cache cannot be read at all) are returned as they are.
func (g *Guard) unrecorded(ctx context.Context, e *Entry, err error, why string) error {
	var bad *badEntry
	switch {
	case errors.Is(err, errSameAttempt):
		// Best effort, within the read's deadline: this attempt stops anyway.
		_ = g.share(ctx)
		return &Unrecorded{Reason: "several jobs of this run made this same request in a step with the same id, so the record cannot say which generations are this job's"}
	case err == nil:
		return &Unrecorded{Attempt: e.Attempt, At: e.At, Reason: why}
	case errors.Is(err, actionscache.ErrUnreadable) || errors.As(err, &bad):
		return &Unrecorded{Reason: "an earlier attempt recorded this submit, but the record cannot be used (" + err.Error() + ")"}
	}
	return err
}

func (g *Guard) get(ctx context.Context, phase string) (*Entry, error) {
	data, found, err := g.cache.Get(ctx, g.phaseKey(phase), version)
	if err != nil || !found {
		return nil, err
	}
	var e Entry
	switch err := json.Unmarshal(data, &e); {
	case err == nil && e.Attempt == g.attempt:
		return nil, errSameAttempt // another job of this attempt wrote it
	case err != nil || e.Attempt < 1 || e.Attempt > g.attempt:
		return nil, &badEntry{phase}
	}
	if phase == "submitted" && !e.Refused {
		// prism-wait records the submit's IDs as it polls them: plain,
		// each once, never the key. Anything else is no record of its.
		for i, id := range e.IDs {
			if !prism.ValidID(id) || g.secret.Secret(id) || slices.Contains(e.IDs[:i], id) {
				return nil, &badEntry{"submitted (it holds what is no generation ID of a submit)"}
			}
		}
		if len(e.IDs) == 0 {
			return nil, &badEntry{"submitted (it holds no generation ID)"}
		}
	}
	return &e, nil
}

// errSameAttempt is a record this very attempt finds written by itself
// before it wrote anything: another job of the run (a matrix leg) made the
// same request in a step with the same id.
var errSameAttempt = errors.New("another job of this attempt made the same request")

// badEntry is a record that exists but is not one prism-wait wrote.
type badEntry struct{ phase string }

func (b *badEntry) Error() string {
	return "the " + b.phase + " entry of an earlier attempt is not one prism-wait wrote"
}

// ErrTaken is returned by Intend when the cache service would not take
// this attempt's intent: most likely another job of the run (a matrix
// leg) made the same request with the same key in a step with the same
// id, which the guard cannot tell apart; or the cache is read-only here.
var ErrTaken = errors.New("the Actions cache did not take this step's record: another job of this run (a matrix leg?) may have made the same submit request with the same key in a step with the same id, which the guard cannot tell apart (make each leg's request differ, e.g. with a variable from the matrix), or the cache is read-only for this run")

// Intend records that this attempt is about to submit. When the intent's
// key is taken already, on the first attempt another job of the run made
// the same request: both are marked as sharing it, so that no re-run
// resumes the other's generations, and ErrTaken says so. On a later
// attempt, a taken key is an earlier attempt's record that was never
// finished: an *Unrecorded.
func (g *Guard) Intend(ctx context.Context, now time.Time) error {
	err := g.put(ctx, "intent", Entry{Attempt: g.attempt, At: now.UTC()})
	if !errors.Is(err, ErrTaken) {
		return err
	}
	// A cache that takes no new entry at all (read-only for this run)
	// refuses every key: then the guard cannot be used, nothing more.
	probe := fmt.Sprintf("%s/probe/%d-%d", g.key, g.attempt, now.UnixNano())
	if perr := g.cache.Put(ctx, probe, version, []byte("{}")); errors.Is(perr, actionscache.ErrTaken) {
		return err
	}
	if g.attempt > 1 {
		// Marked shared only when the intent is this attempt's, another
		// job's: an earlier attempt's stays readable to a later one.
		if _, gerr := g.get(ctx, "intent"); errors.Is(gerr, errSameAttempt) {
			_ = g.share(ctx)
		}
		return &Unrecorded{Reason: "an earlier attempt, or another job of this run, began to record this submit and never finished the record"}
	}
	if serr := g.share(ctx); serr != nil {
		return fmt.Errorf("%w; and the mark that keeps a re-run of either job from resuming the other's generations could not be written (%v), so a re-run of this job could wait for the other job's videos", err, serr)
	}
	return err
}

// share marks this round's record as made by several jobs at once, so that
// no later attempt resumes from it (a taken marker is one already).
func (g *Guard) share(ctx context.Context) error {
	if err := g.put(ctx, "shared", Entry{Attempt: g.attempt, At: time.Now().UTC()}); !errors.Is(err, ErrTaken) {
		return err
	}
	return nil
}

// Submitted records the IDs the API answered, and how many of its
// entries had none (lost), failed ones among them.
func (g *Guard) Submitted(ctx context.Context, now time.Time, ids []string, lost, failed int) error {
	return g.put(ctx, "submitted", Entry{Attempt: g.attempt, At: now.UTC(), IDs: ids, Lost: lost, LostFailed: failed})
}

// Refused records that the API refused this attempt's request, so that
// nothing was created and a later attempt may submit it again.
func (g *Guard) Refused(ctx context.Context, now time.Time) error {
	return g.put(ctx, "submitted", Entry{Attempt: g.attempt, At: now.UTC(), Refused: true})
}

func (g *Guard) put(ctx context.Context, phase string, e Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	err = g.cache.Put(ctx, g.phaseKey(phase), version, data)
	if errors.Is(err, actionscache.ErrTaken) {
		return ErrTaken
	}
	return err
}

// Unrecorded is the answer to an attempt that finds an intent of an
// earlier one without its submitted entry: that attempt sent the request
// (or was about to) and never recorded the answer, so it may have paid.
//
// Attempt is 0 when the record does not say which attempt: then Reason
// says what is known.
type Unrecorded struct {
	Attempt int       // the earlier attempt, 0 when unknown
	At      time.Time // when it was about to send
	Reason  string    // what else is known, "" for an intent without its answer
}

func (u *Unrecorded) Error() string {
	if u.Attempt == 0 {
		return u.Reason
	}
	s := fmt.Sprintf("attempt %d of this run began this submit at %s and recorded no answer", u.Attempt, u.At.UTC().Format(time.RFC3339))
	if u.Reason != "" {
		s += ": " + u.Reason
	}
	return s
}

// Package outcome decides what the end of a run means. From what happened
// (an invalid input, a failed submit, each generation's wait and download,
// step outputs that could not be written) one ordered table gives the exit
// code, the annotation's title and the advice: what went wrong and what to
// do next, in the user's terms. The same package says what the `status`
// output is, and lists the exit codes for --help. It decides; the report
// renders what it decides.
package outcome

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/rerun"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Exit codes. Where several apply, the one whose first row comes first in
// the table wins: ExitInput, ExitRefused, ExitFailed, ExitDownload,
// ExitTimeout, then ExitOK (see Worse).
const (
	ExitOK       = 0 // every generation completed (and downloaded, if asked)
	ExitFailed   = 1 // a generation failed, prism-wait failed, or the outputs could not be written
	ExitInput    = 2 // invalid input, before any request
	ExitTimeout  = 3 // the timeout passed, or the job was cancelled, before a verdict; or generations were not waited for
	ExitRefused  = 4 // the API refused: 401, 403, 404, other 4xx; or a submit's outcome is unknown
	ExitDownload = 5 // a download failed
)

// exitCode says what an exit code means, in --help.
type exitCode struct {
	code  int
	means string
}

// codes are the exit codes, in numeric order.
var codes = []exitCode{
	{ExitOK, "all completed"},
	{ExitFailed, "a generation failed (by its status or the submit's answer; or the outputs could not be written, or an internal error)"},
	{ExitInput, "invalid input (or --rerun-guard required where it cannot work)"},
	{ExitTimeout, "timeout or cancelled (or submitted generations not waited for: past the first 100, or without an ID)"},
	{ExitRefused, "the API refused (or a submit's outcome is unknown, or an earlier attempt may have paid for it)"},
	{ExitDownload, "a download failed"},
}

// StatusNoVideo is the status reported for a generation that the API calls
// completed but that never gave a usable video_url: it is no success.
const StatusNoVideo = "completed_without_video"

// StatusNotWaited is the status reported for a submitted generation past
// the first prism.MaxIDs, which one step does not wait for.
const StatusNotWaited = "not_waited"

// ErrNotWaited is the Wait error of a submitted generation past the first
// prism.MaxIDs: no status was read, so there is no verdict. Exit code 3,
// even when every generation waited for completed: exit 0 says that every
// generation completed, and nobody looked at these.
var ErrNotWaited = fmt.Errorf("not waited for: one step waits for the first %d generations", prism.MaxIDs)

// Lost are a submit answer's entries that may be generations, but have
// no plain generation_id to wait for (prism.Submission's Lost).
type Lost struct {
	Count, Failed int    // how many; how many of them the answer marks failed
	What          string // the first of them, described (scrubbed, bounded)
}

// Facts are what happened: to the whole run (Invalid, Submit, Lost,
// Outputs, Crash) or to one generation (ID, Gen, Wait, Download). A run is
// judged as one Facts for each of its problems and one for each
// generation.
type Facts struct {
	Invalid error        // an invalid input, in the user's terms: nothing was sent
	Submit  error        // why submitting failed: a *prism.Error, or the context's cause
	Lost    *Lost        // the submit answer's entries without an ID to wait for
	Outputs error        // why the step outputs or summary could not be written
	Crash   *crash.Panic // a panic outside every generation's wait and download

	ID       string           // the generation
	Gen      prism.Generation // its last status read; zero if none
	Wait     error            // why its wait ended without a verdict (wait.Result.Err)
	Download error            // why its video was not downloaded
}

// Settings are what advice quotes of the user's settings.
type Settings struct {
	// Name names an input the way the user sets it: "timeout" in the
	// action, "--timeout (PRISM_TIMEOUT)" in the CLI. nil: the action's
	// input names.
	Name func(input string) string
	// Timeout is the run's timeout, quoted in advice to raise it.
	Timeout time.Duration
	// Submitted says the generations came from a submit (this attempt's,
	// or an earlier one's), not from generation_id.
	Submitted bool
	// Prompt says the submit was a prompt's, not a template's.
	Prompt bool
}

func (s Settings) name(input string) string {
	if s.Name == nil {
		return input
	}
	return s.Name(input)
}

// Verdict is the table's decision for one Facts.
type Verdict struct {
	Kind   string // the row's name, e.g. "generation failed"
	Code   int    // the exit code
	Title  string // the annotation's title; "" for a success
	Advice string // what went wrong and what to do next; "" for a success
}

// row is one kind of outcome. The first row whose when holds decides.
type row struct {
	kind   string
	code   int
	title  string
	when   func(*Facts) bool
	advice func(*Facts, Settings) string
}

// table holds every kind of outcome, in precedence order: the first row
// that applies to a Facts is its verdict, and an exit code takes
// precedence over another when its first row comes first. So that one
// order serves both, a row's condition leaves out what belongs to a later
// row of lower precedence: a download that the deadline cut short is left
// to the timeout rows, not taken as a failed download.
var table = []row{
	{"re-run guard required", ExitInput, "Re-run guard unavailable",
		func(f *Facts) bool { var r *rerun.RequiredUnmet; return errors.As(f.Invalid, &r) },
		func(f *Facts, s Settings) string {
			var r *rerun.RequiredUnmet
			errors.As(f.Invalid, &r)
			return fmt.Sprintf("%s is required, but %v. Nothing was submitted. Set %s to auto to submit without the guard (a re-run would then submit and pay again).",
				s.name("rerun_guard"), r.Why, s.name("rerun_guard"))
		}},
	{"invalid input", ExitInput, "Invalid input",
		func(f *Facts) bool { return f.Invalid != nil },
		func(f *Facts, _ Settings) string { return f.Invalid.Error() }},

	// A re-run found that an earlier attempt began this submit and kept no
	// answer (internal/rerun): it may have paid, so nothing is sent.
	{"earlier attempt may have paid", ExitRefused, "Earlier attempt may have paid",
		func(f *Facts) bool { var u *rerun.Unrecorded; return errors.As(f.Submit, &u) },
		func(f *Facts, s Settings) string {
			var u *rerun.Unrecorded
			errors.As(f.Submit, &u)
			what := fmt.Sprintf("Attempt %d of this run began to submit this same request at %s, and recorded no answer", u.Attempt, u.At.UTC().Format(time.RFC3339))
			when := "around that time"
			switch {
			case u.Attempt == 0:
				what, when = "The re-run guard cannot tell what an earlier attempt of this run paid for: "+u.Reason, "by this run"
			case u.Reason != "":
				what += " (" + u.Reason + ")"
			}
			return what + ": it may have created (and been charged for) generations. " +
				"Nothing was submitted now. Check the Prism dashboard for generations created " + when + "; " +
				fmt.Sprintf("to wait for them, set %s to their IDs (in place of %s or %s); to submit again anyway, set %s to off.",
					s.name("generation_id"), s.name("template_id"), s.name("prompt"), s.name("rerun_guard"))
		}},

	// The submit reached the API and may have been acted on: never sent
	// again, and no timeout either, even when the deadline cut it short.
	{"submit outcome unknown", ExitRefused, "Submit outcome unknown",
		func(f *Facts) bool { pe := asPrism(f.Submit); return pe != nil && pe.Unknown },
		func(f *Facts, s Settings) string {
			return fmt.Sprintf("The submit request reached Prism, but its answer was lost or unusable (%v). "+
				"The generations may have been created and charged: check the Prism dashboard before re-running. "+
				"It was not sent again; to wait for generations that exist, pass their IDs as %s.", asPrism(f.Submit), s.name("generation_id"))
		}},
	{"no credits", ExitRefused, "Prism API refused the submission", submitRefused(prism.NoCredits),
		func(f *Facts, _ Settings) string {
			return fmt.Sprintf("Not enough credits (%v). Top up the account's credits in Prism, then re-run.", asPrism(f.Submit))
		}},
	{"template not generatable", ExitRefused, "Prism API refused the submission", submitRefused(prism.Unprocessable),
		func(f *Facts, s Settings) string {
			return fmt.Sprintf("This template cannot be generated through the API (%v). Use another %s, or generate it in the Prism app.", asPrism(f.Submit), s.name("template_id"))
		}},
	{"submission rejected", ExitRefused, "Prism API refused the submission", submitRefused(prism.Rejected),
		func(f *Facts, s Settings) string {
			if s.Prompt {
				return fmt.Sprintf("The request was rejected (%v). Fix the field it names in %s, %s, %s or %s.", asPrism(f.Submit), s.name("prompt"), s.name("model"), s.name("count"), s.name("options"))
			}
			return fmt.Sprintf("The request was rejected (%v). Fix the variable or field it names in %s or %s.", asPrism(f.Submit), s.name("variables"), s.name("options"))
		}},
	{"template not found", ExitRefused, "Prism API refused the submission", submitRefused(prism.NotFound),
		func(f *Facts, s Settings) string {
			if s.Prompt {
				// Nothing to find but the endpoint itself.
				return fmt.Sprintf("Not found (%v): there is no prompt-to-video endpoint there. Check that %s points at the Prism API's root, as https://prismvideos.com/api does.", asPrism(f.Submit), s.name("base_url"))
			}
			return fmt.Sprintf("Not found (%v). Check %s, and that the template belongs to the account of this API key.", asPrism(f.Submit), s.name("template_id"))
		}},
	{"submission: key refused", ExitRefused, "Prism API refused the submission", submitRefused(prism.KeyRefused),
		func(f *Facts, s Settings) string { return keyRefused(asPrism(f.Submit), s) }},
	{"submission: key not allowed", ExitRefused, "Prism API refused the submission", submitRefused(prism.NotAllowed),
		func(f *Facts, s Settings) string { return keyNotAllowed("submit generations", asPrism(f.Submit), s) }},
	// No answer, and final: prism-wait's own transport refused to connect
	// (a link-local address), before anything was sent.
	{"submission: refused to connect", ExitRefused, "Refused to connect", submitRefused(prism.NoAnswer),
		func(f *Facts, s Settings) string {
			return fmt.Sprintf("The submission: %v. Nothing was submitted. %s", asPrism(f.Submit), connectAdvice(s))
		}},
	{"submission refused", ExitRefused, "Prism API refused the submission", submitRefused(anyMeaning),
		func(f *Facts, s Settings) string { return refusedOther("the submission", asPrism(f.Submit), s) }},

	// A permanent error while reading a generation's status.
	{"key refused", ExitRefused, "Prism API refused the request", refused(prism.KeyRefused),
		func(f *Facts, s Settings) string {
			return keyRefused(permanent(f.Wait), s) + s.again("wait for it", f.ID, "")
		}},
	{"key not allowed", ExitRefused, "Prism API refused the request", refused(prism.NotAllowed),
		func(f *Facts, s Settings) string {
			return keyNotAllowed("read generations", permanent(f.Wait), s) + s.again("wait for it", f.ID, "")
		}},
	{"submitted, not found", ExitRefused, "Prism API refused the request",
		func(f *Facts) bool { _, ok := errors.AsType[*wait.NotFoundAfterSubmit](f.Wait); return ok },
		func(f *Facts, s Settings) string {
			nf, _ := errors.AsType[*wait.NotFoundAfterSubmit](f.Wait)
			return fmt.Sprintf("Generation %s was returned by the submit, but the API does not know it (%v). It was created and charged: "+
				"wait for it again later with %s set to its ID in place of %s, or ask Prism support about it.", f.ID, nf, s.name("generation_id"), s.submit())
		}},
	{"generation not found", ExitRefused, "Prism API refused the request", refused(prism.NotFound),
		func(f *Facts, s Settings) string {
			if s.Submitted {
				return fmt.Sprintf("Generation %s was not found (%v), though the submit returned it: it was created and charged. Ask Prism support about it, with its ID.", f.ID, permanent(f.Wait))
			}
			return fmt.Sprintf("Generation %s was not found (%v). Check the ID given as %s, and that it belongs to the account of this API key.", f.ID, permanent(f.Wait), s.name("generation_id"))
		}},
	{"refused to connect", ExitRefused, "Refused to connect", refused(prism.NoAnswer),
		func(f *Facts, s Settings) string {
			return sentences(fmt.Sprintf("%s: %v. %s", f.ID, permanent(f.Wait), connectAdvice(s)), s.again("wait for it", f.ID, ""))
		}},
	{"refused", ExitRefused, "Prism API refused the request", refused(anyMeaning),
		func(f *Facts, s Settings) string {
			return refusedOther(f.ID, permanent(f.Wait), s) + s.again("wait for it", f.ID, "")
		}},

	{"internal error", ExitFailed, "Internal error",
		func(f *Facts) bool { return panicked(f) != nil },
		func(f *Facts, s Settings) string {
			msg := fmt.Sprintf("%v. This is a bug in prism-wait: please report it with the step's debug log (it has the stack).", panicked(f))
			if f.ID != "" {
				msg = f.ID + ": " + msg + s.again("wait for it", f.ID, "")
			}
			return msg
		}},
	// Exit 0 says every generation completed: not when the submit's answer
	// says that some failed, or lists some that nobody can look at.
	{"submitted entries failed", ExitFailed, "Generation failed",
		func(f *Facts) bool { return f.Lost != nil && f.Lost.Failed > 0 },
		func(f *Facts, _ Settings) string {
			more := ""
			if rest := f.Lost.Count - f.Lost.Failed; rest > 0 {
				more = fmt.Sprintf(", and %d more without one", rest)
			}
			return fmt.Sprintf("The submit answer marks %d of its entries failed, with no generation ID to wait for%s (%s). Look at them in the Prism dashboard.", f.Lost.Failed, more, f.Lost.What)
		}},
	{"generation failed", ExitFailed, "Generation failed",
		func(f *Facts) bool { return f.Wait == nil && f.Gen.Status == prism.StatusFailed },
		func(f *Facts, _ Settings) string {
			return fmt.Sprintf("%s failed: %s", f.ID, cmp.Or(f.Gen.Error, "the API gave no reason"))
		}},
	// Later steps must not take a run for a success when they cannot see
	// its results.
	{"outputs not written", ExitFailed, "Cannot write step outputs",
		func(f *Facts) bool { return f.Outputs != nil },
		func(f *Facts, s Settings) string {
			msg := fmt.Sprintf("%v. Later steps would not see the results.", f.Outputs)
			if s.Submitted {
				msg += fmt.Sprintf(" The generations were created and charged: to wait for them again without paying again, pass the IDs this log lists as submitted as %s in place of %s.", s.name("generation_id"), s.submit())
			}
			return msg
		}},

	{"download failed", ExitDownload, "Download failed",
		func(f *Facts) bool {
			var de *download.Error
			return f.Wait == nil && errors.As(f.Download, &de) && !stopped(f.Download)
		},
		func(f *Facts, s Settings) string { return downloadAdvice(f, s) }},

	// Without a *prism.Error that says the API did not act, a submit cut
	// short created nothing: the API answered nothing but 429s, or nothing.
	{"submit did not finish", ExitTimeout, "Submit did not finish",
		func(f *Facts) bool { return f.Submit != nil },
		func(f *Facts, s Settings) string {
			why, next := ": the API did not accept the request", fmt.Sprintf("Re-run, or raise %s (now %s)", s.name("timeout"), s.Timeout)
			if errors.Is(f.Submit, wait.ErrUnanswered) {
				why, next = "", fmt.Sprintf("Check %s and this machine's network, then re-run", s.name("base_url"))
			}
			if errors.Is(f.Submit, wait.ErrCanceled) {
				next = "Start it again when you want them"
			}
			return fmt.Sprintf("The generations were not submitted: %v. Nothing was created or charged%s. %s.", f.Submit, why, next)
		}},
	{"stopped early", ExitTimeout, "Stopped early",
		func(f *Facts) bool { return errors.Is(f.Wait, wait.ErrStopped) }, waitAdvice},
	{"cancelled", ExitTimeout, "Cancelled",
		func(f *Facts) bool { return errors.Is(f.Wait, wait.ErrCanceled) }, waitAdvice},
	{"not waited for", ExitTimeout, "Not waited for",
		func(f *Facts) bool { return errors.Is(f.Wait, ErrNotWaited) }, waitAdvice},
	{"submitted entries lost", ExitTimeout, "Not waited for",
		func(f *Facts) bool { return f.Lost != nil && f.Lost.Count > 0 },
		func(f *Facts, s Settings) string {
			return fmt.Sprintf("The submit answer has entries with no generation ID to wait for (%d: %s). They may be generations that were created and charged, "+
				"so the step ends with exit code 3 (no verdict), whatever the others do. Look for them in the Prism dashboard; to wait for them, pass their IDs as %s in place of %s.",
				f.Lost.Count, f.Lost.What, s.name("generation_id"), s.submit())
		}},
	{"no verdict in time", ExitTimeout, "No verdict in time",
		func(f *Facts) bool { return f.Wait != nil }, waitAdvice},
	{"download cancelled", ExitTimeout, "Cancelled",
		func(f *Facts) bool { return errors.Is(f.Download, wait.ErrCanceled) }, downloadAdvice},
	// A URL refresh told to wait past the deadline, a download cut short
	// by it, or one that another generation's permanent error stopped.
	{"download not finished", ExitTimeout, "Download not finished",
		func(f *Facts) bool { return f.Download != nil }, downloadAdvice},

	{"completed", ExitOK, "",
		func(*Facts) bool { return true },
		func(*Facts, Settings) string { return "" }},
}

// Of is the verdict on what happened.
func Of(f Facts, s Settings) Verdict {
	for _, r := range table {
		if r.when(&f) {
			return Verdict{Kind: r.kind, Code: r.code, Title: r.title, Advice: r.advice(&f, s)}
		}
	}
	panic("outcome: the table's last row applies to everything")
}

// Code is the exit code of a run: the worst verdict of all its facts.
func Code(fs []Facts) int {
	code := ExitOK
	for _, f := range fs {
		code = Worse(code, Of(f, Settings{}).Code)
	}
	return code
}

// Compare orders exit codes by precedence: negative when a takes
// precedence over b, as for slices.SortFunc. A code outside the table
// comes after all of them.
func Compare(a, b int) int { return cmp.Compare(rank(a), rank(b)) }

// Worse is whichever of two exit codes takes precedence.
func Worse(a, b int) int {
	if Compare(b, a) < 0 {
		return b
	}
	return a
}

// rank is the position of code's first row in the table.
func rank(code int) int {
	i := slices.IndexFunc(table, func(r row) bool { return r.code == code })
	if i < 0 {
		return len(table)
	}
	return i
}

// Usage lists the exit codes for --help, wrapped at 69 columns like the
// rest of it.
func Usage() string {
	items := make([]string, len(codes))
	for i, c := range codes {
		items[i] = strconv.Itoa(c.code) + " " + c.means
	}
	return wrap("Exit codes: "+strings.Join(items, ", ")+".", 69)
}

// wrap breaks s into lines of at most width bytes, between words; a word
// longer than width has a line of its own.
func wrap(s string, width int) string {
	words := strings.Fields(s)
	var b strings.Builder
	line := words[0]
	for _, w := range words[1:] {
		if len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = w
			continue
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// StatusUnrecognised is the status reported for a status from the API
// that GitHub's case-blind == takes for a verdict or one of ours
// ("COMPLETED", "not_waited"): it is none (the API documents others as
// not final), and an `if:` would take it for what was not seen.
const StatusUnrecognised = "unrecognised"

// GenerationStatus is a generation's status as reported: the API's, except
// StatusNoVideo for one completed without a usable video, and
// StatusUnrecognised for one that only looks like a verdict to GitHub.
func GenerationStatus(g prism.Generation) string {
	switch g.Status {
	case prism.StatusCompleted:
		if !g.Done() {
			return StatusNoVideo
		}
		return g.Status
	case prism.StatusFailed:
		return g.Status
	}
	for _, v := range []string{prism.StatusCompleted, prism.StatusFailed, StatusNoVideo, StatusNotWaited} {
		// .NET's ignore-case compares upper case: "faıled" is "FAILED".
		if strings.EqualFold(g.Status, v) || strings.ToUpper(g.Status) == strings.ToUpper(v) {
			return StatusUnrecognised
		}
	}
	return g.Status
}

// StatusOf is the status reported for one generation's facts:
// StatusNotWaited for one not waited for, else GenerationStatus.
func StatusOf(f Facts) string {
	if errors.Is(f.Wait, ErrNotWaited) {
		return StatusNotWaited
	}
	return GenerationStatus(f.Gen)
}

// Status is the step's `status` output, from each generation's facts:
// completed only when every generation completed with a usable video;
// failed when any failed; else the status of the first generation still
// without a verdict (StatusNoVideo for one completed without a usable
// video_url, StatusNotWaited for one not waited for, "" when none was
// ever read, or when there are no generations at all).
func Status(gens []Facts) string {
	if len(gens) == 0 {
		return ""
	}
	for _, f := range gens {
		if f.Gen.Status == prism.StatusFailed {
			return prism.StatusFailed
		}
	}
	for _, f := range gens {
		if !f.Gen.Done() {
			return StatusOf(f)
		}
	}
	return prism.StatusCompleted
}

// NotWaited says, for the IDs a submit returned, which ones one step does
// not wait for (those past the first prism.MaxIDs), what that means for
// the exit code, and how to wait for them; "" when it waits for all.
// created is how many IDs the submit returned; listed are the first of
// them, as the results hold them.
func NotWaited(listed []string, created int, s Settings) string {
	created = max(created, len(listed))
	if created <= prism.MaxIDs {
		return ""
	}
	rest := listed[min(prism.MaxIDs, len(listed)):]
	shown := rest[:min(len(rest), 10)]
	named := strings.Join(shown, ", ")
	if more := created - prism.MaxIDs - len(shown); more > 0 {
		named += fmt.Sprintf(" and %d more", more)
	}
	where := fmt.Sprintf("all %d are in the results, in the API's order (in GitHub Actions, in the generation_id output too).", created)
	if created > len(listed) {
		where = fmt.Sprintf("the first %d are in the results, in the API's order (in GitHub Actions, in the generation_id output too), and all %d in the log's \"submitted\" lines.", len(listed), created)
	}
	return fmt.Sprintf("The API created %d generations, more than the %d one step waits for: this step waits for the first %d and not for the other %d (%s). "+
		"It ends with exit code 3 (no verdict) even when the %d complete, so that no later step takes the others' videos as ready. "+
		"To wait for them, pass their IDs, at most %d per step or run, as %s to later steps that run even when this one fails: %s",
		created, prism.MaxIDs, prism.MaxIDs, created-prism.MaxIDs, named, prism.MaxIDs, prism.MaxIDs, s.name("generation_id"), where)
}

func asPrism(err error) *prism.Error {
	var pe *prism.Error
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// permanent is err's *prism.Error when that error is permanent: the
// request would only be refused again.
func permanent(err error) *prism.Error {
	if pe := asPrism(err); pe != nil && !pe.Transient {
		return pe
	}
	return nil
}

// stopped reports whether err ended with the deadline or a cancel.
func stopped(err error) bool {
	return errors.Is(err, wait.ErrDeadline) || errors.Is(err, wait.ErrCanceled)
}

// anyMeaning stands for every prism.Meaning in refused and submitRefused.
const anyMeaning prism.Meaning = -1

// refused matches a permanent error reading a generation that means m.
func refused(m prism.Meaning) func(*Facts) bool {
	return func(f *Facts) bool {
		pe := permanent(f.Wait)
		return pe != nil && (m == anyMeaning || pe.Meaning() == m)
	}
}

// submitRefused matches a submit the API refused, meaning m, before the
// deadline or a cancel ended it.
func submitRefused(m prism.Meaning) func(*Facts) bool {
	return func(f *Facts) bool {
		pe := permanent(f.Submit)
		return pe != nil && !stopped(f.Submit) && (m == anyMeaning || pe.Meaning() == m)
	}
}

// panicked is the panic that ended the run, or this generation's wait or
// download; nil when none did.
func panicked(f *Facts) *crash.Panic {
	if f.Crash != nil {
		return f.Crash
	}
	var p *crash.Panic
	if errors.As(f.Wait, &p) || errors.As(f.Download, &p) {
		return p
	}
	return nil
}

// connectAdvice is what to do when the transport refused to connect to
// the API: base_url led to an address that is never Prism's.
func connectAdvice(s Settings) string {
	return fmt.Sprintf("No retry can help: set %s to the Prism API's root, as https://prismvideos.com/api, or to a prism-sim's address.", s.name("base_url"))
}

func keyRefused(e *prism.Error, s Settings) string {
	return fmt.Sprintf("Prism refused the API key (%v). Check that the secret passed as %s holds a current key (prism_sk_…); keys can be revoked or expire.", e, s.name("api_key"))
}

func keyNotAllowed(what string, e *prism.Error, s Settings) string {
	return fmt.Sprintf("The API key may not %s (%v). Create a key with the templates:read scope, and pass it as %s from a secret.", what, e, s.name("api_key"))
}

func refusedOther(what string, e *prism.Error, s Settings) string {
	return fmt.Sprintf("The API refused the request for %s (%v). This is not retried; check that %s points at the Prism API's root, as https://prismvideos.com/api does.", what, e, s.name("base_url"))
}

// waitAdvice explains a wait that ended without a verdict.
func waitAdvice(f *Facts, s Settings) string {
	pe := asPrism(f.Wait)
	switch {
	case errors.Is(f.Wait, wait.ErrDeadline) && (errors.Is(f.Wait, wait.ErrNoAnswer) || f.Gen.Status == "" && pe != nil && pe.StatusCode == 0):
		// No answer at all: the last request failed below HTTP, or was
		// still waiting for one (a host that accepts and never answers).
		return fmt.Sprintf("%s: %v. No status was read, and the last request got no answer: check %s and this machine's network; raise %s (now %s) only if the API was just slow.%s",
			f.ID, f.Wait, s.name("base_url"), s.name("timeout"), s.Timeout, s.again("wait for it", f.ID, ""))
	case errors.Is(f.Wait, wait.ErrNoVideo):
		return fmt.Sprintf("%s: %v. Prism calls it completed but gives no video to fetch, which more time rarely cures: look at the generation in Prism's dashboard, or ask Prism support about it with its ID.%s",
			f.ID, f.Wait, s.again("wait for it", f.ID, ""))
	case errors.Is(f.Wait, wait.ErrDeadline) && GenerationStatus(f.Gen) == StatusUnrecognised:
		return fmt.Sprintf("%s: %v. The API sent a status it does not document, which GitHub's case-blind == would take for a verdict, so it is reported as %s: look at the generation in Prism's dashboard, or ask Prism support about it with its ID.%s",
			f.ID, f.Wait, StatusUnrecognised, s.again("wait for it", f.ID, ""))
	case errors.Is(f.Wait, wait.ErrDeadline):
		return fmt.Sprintf("%s: %v. Raise %s (now %s) if generations take longer.%s", f.ID, f.Wait, s.name("timeout"), s.Timeout, s.again("wait for it", f.ID, s.name("timeout")))
	}
	return sentences(fmt.Sprintf("%s: %v", f.ID, f.Wait), s.again("wait for it", f.ID, ""))
}

// sentences ends msg with a full stop before more, if there is more.
func sentences(msg, more string) string {
	if more != "" && !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg + more
}

// again tells how to wait for (or download) a submitted generation once
// more without submitting, and paying, again; "" for generations given by
// ID. longer, when set, names the input to raise on the way.
func (s Settings) again(what, id, longer string) string {
	if !s.Submitted {
		return ""
	}
	with := ""
	if longer != "" {
		with = ", with a longer " + longer
	}
	return fmt.Sprintf(" It was created and charged: to %s again without paying again, pass %s as %s in place of %s%s.", what, id, s.name("generation_id"), s.submit(), with)
}

// submit names the input the generations were submitted with.
func (s Settings) submit() string {
	if s.Prompt {
		return s.name("prompt")
	}
	return s.name("template_id")
}

// downloadAdvice explains a download that did not happen.
func downloadAdvice(f *Facts, s Settings) string {
	if errors.Is(f.Download, wait.ErrDeadline) {
		return fmt.Sprintf("%v. Raise %s (now %s): it covers the downloads too.%s", f.Download, s.name("timeout"), s.Timeout, s.again("download it", f.ID, s.name("timeout")))
	}
	if de, ok := errors.AsType[*download.Error](f.Download); ok && de.Full() {
		return fmt.Sprintf("%v. The disk is full, not storage's fault: make room in the workspace (what earlier steps left there), or download fewer videos per job.%s", f.Download, s.again("download it", f.ID, ""))
	} else if ok && de.Local() {
		return fmt.Sprintf("%v. The file system refused it, not storage: check that %s is a directory that the user running prism-wait may write in, with no directory where the video goes.%s", f.Download, s.name("download_dir"), s.again("download it", f.ID, ""))
	}
	return sentences(f.Download.Error(), s.again("download it", f.ID, ""))
}

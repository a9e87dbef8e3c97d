package report

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Submitting logs the submit about to be sent to the API at base: what it
// submits, and, as debug, the names of the request's fields (never their
// values, which may be secret).
func Submitting(log *Log, req prism.SubmitRequest, base *url.URL) {
	what := "a prompt"
	if req.TemplateID != "" {
		what = "template " + req.TemplateID
	}
	log.Infof("submitting %s at %s", what, base)
	log.Debugf("submit request fields: %s", strings.Join(slices.Sorted(maps.Keys(req.Body)), ", "))
}

// Waiting logs the generations about to be waited for, without a submit.
func Waiting(log *Log, ids []string, base *url.URL, timeout time.Duration) {
	log.Infof("waiting for %d generation(s) at %s (timeout %s): %s", len(ids), base, timeout, strings.Join(ids, ", "))
}

// idsPerLine is how many IDs a log line lists: 25 of at most 128 bytes
// each stay under MaxLine.
const idsPerLine = 25

// MaxListed bounds how many of a submit's IDs the outputs and results
// list: a broken API could return tens of thousands, and outputs must stay
// under GitHub's 1 MB per job. The log lists them all.
const MaxListed = 500

// Listed are the IDs the outputs and results list: the first MaxListed.
func Listed(ids []string) []string { return ids[:min(len(ids), MaxListed)] }

// LogIDs logs head and the submitted ids: on one line when they are few,
// else idsPerLine a line, "submitted 26–50: …", every one of them (those
// past MaxListed are nowhere else), on lines that stay under MaxLine.
func LogIDs(log *Log, head string, ids []string) {
	if len(ids) <= idsPerLine {
		log.Infof("%s: %s", head, strings.Join(ids, ", "))
		return
	}
	log.Infof("%s:", head)
	for i := 0; i < len(ids); i += idsPerLine {
		chunk := ids[i:min(i+idsPerLine, len(ids))]
		log.Infof("submitted %d–%d: %s", i+1, i+len(chunk), strings.Join(chunk, ", "))
	}
}

// Announce logs what was submitted and when the videos are expected, and
// warns when the timeout looks too short (0: the step does not wait, no
// warning), naming the setting as term does. It returns the typical
// estimate.
func Announce(log *Log, sub prism.Submission, timeout time.Duration, term func(input string) string) time.Duration {
	credits := ""
	if sub.CreditsCharged != "" {
		credits = ", " + sub.CreditsCharged.String() + " credits charged"
	}
	LogIDs(log, fmt.Sprintf("submitted %d generation(s)%s", len(sub.IDs), credits), sub.IDs)
	typical, busy := seconds(sub.Typical), seconds(sub.Busy)
	if typical > 0 {
		log.Infof("expected in about %s (up to %s when Prism is busy)", typical, max(busy, typical))
	}
	if expect := max(busy, typical); timeout > 0 && timeout < expect {
		what := fmt.Sprintf("up to %s when busy", busy)
		if busy < typical {
			what = fmt.Sprintf("about %s", typical)
		}
		log.Warningf("Timeout may be too short", "Prism expects %s, and the timeout is %s. Raise %s if the step ends before the videos.", what, timeout, term("timeout"))
	}
	return typical
}

// maxPlanned is how many sparse reads ReadPlan names before "…".
const maxPlanned = 8

// ReadPlan logs when the first reads come after a submit whose answer
// estimates the latency: the sparse reads (times since the submit), and
// from when a read goes every poll, and why from then. It logs nothing
// without sparse reads.
func ReadPlan(log *Log, poll time.Duration, sparse []time.Duration, dense time.Duration, why string) {
	if len(sparse) == 0 {
		return
	}
	unit := time.Second
	if poll < time.Second {
		unit = poll / 10
	}
	var at []string
	for i, d := range sparse {
		if i == maxPlanned {
			at = append(at, "…")
			break
		}
		at = append(at, d.Round(unit).String())
	}
	log.Infof("first reads at %s after the submit, then every %s from %s on (%s)",
		strings.Join(at, ", "), poll, dense.Round(unit), why)
}

// seconds is an estimate in seconds as a duration; 0 for none, or for one
// beyond a day, which no generation takes.
func seconds(s float64) time.Duration {
	if s <= 0 || s > 24*3600 {
		return 0
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second)
}

// resubmit tells of a refused submit that is sent again: a warning the
// first time, debug lines after, as for any transient trouble.
func (p *Progress) resubmit(e wait.Event) {
	when := "when the API's rate limit allows" // the request budget holds it
	if e.Wait > 0 {
		when = "in " + e.Wait.Round(time.Millisecond).String()
	}
	if p.firstOf("submit") {
		p.log.Warningf("Submit not accepted yet", "%v; the API did not act on it, so it is sent again %s. Further refusals are logged as debug only.", e.Err, when)
		return
	}
	p.log.Debugf("submit: %v; sent again %s", e.Err, when)
}

// firstOf tells whether this is the first trouble of kind, and marks it
// warned about.
func (p *Progress) firstOf(kind string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := !p.warned[kind]
	p.warned[kind] = true
	return first
}

// Caveats says what of a submit's answer is not used: side fields that did
// not parse (left empty) and entries that cannot be waited for.
func Caveats(log *Log, sub prism.Submission) {
	for _, s := range sub.Ignored {
		log.Infof("the submit answer's %s; left empty", s)
	}
	if sub.UnusableCount > 0 {
		// IDs listed again only: each is waited for once.
		next := fmt.Sprintf("The step goes on with the %d usable generation ID(s).", len(sub.IDs))
		if sub.Lost > 0 {
			next = "Those without a plain ID may be generations that were created and charged: check the Prism dashboard. " +
				fmt.Sprintf("The step goes on with the %d usable generation ID(s), and ends with exit code 3 (no verdict) for the others, or 1 if the answer marks one failed.", len(sub.IDs))
		}
		log.Warningf("Unusable entries in the submit answer", "%d of the API's entries cannot be waited for: %s. %s", sub.UnusableCount, sub.UnusableText(), next)
	}
}

// MarkedFailed says that the submit answer marks f failed already.
func MarkedFailed(f prism.Failed) string {
	why := ""
	if f.Error != "" {
		why = " (" + f.Error + ")"
	}
	return fmt.Sprintf("%s: the submit answer marks it failed already%s; a wait for it will fail. Look at it in the Prism dashboard before submitting again, which pays again.", f.ID, why)
}

// WarnMarked warns, after a submit that does not wait, of the IDs the
// answer marks failed: the first ten, then how many more.
func WarnMarked(log *Log, marked []prism.Failed) {
	for i, f := range marked {
		if i == 10 {
			log.Warningf("Generation failed", "The submit answer marks %d more IDs failed: the results say which, of the first %d.", len(marked)-i, MaxListed)
			return
		}
		log.Warningf("Generation failed", "%s", MarkedFailed(f))
	}
}

// WarnNotWaited says, before the wait, which of the submitted ids one
// step does not wait for (see outcome.NotWaited), if any. term names an
// input as Run.Terms does.
func WarnNotWaited(log *Log, ids []string, term func(input string) string) {
	if advice := outcome.NotWaited(Listed(ids), len(ids), outcome.Settings{Name: term}); advice != "" {
		log.Warningf("Not waited for", "%s", advice)
	}
}

package report

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Progress turns the wait's events into log lines like a good CI citizen:
// one line per status change, each kind of transient trouble warned about
// once (then only as debug), per-request detail as debug, and a heartbeat.
type Progress struct {
	log     *Log
	start   time.Time
	mu      sync.Mutex
	ids     []string
	status  map[string]string // last status per ID, as reported, "" before the first
	sent    map[string]string // and as the API sent it: two unrecognised ones differ
	changes map[string]int    // lines logged per ID for a change to an unfinished status
	trouble map[string]string // kind of the last transient error per ID, until the next status
	warned  map[string]bool   // kinds of transient trouble already warned about
	typical time.Duration     // Prism's typical estimate for a submission, 0 when none
	since   time.Time         // when that submission was accepted: the estimate counts from it
	// Rate, when set, tells the heartbeat the request budget's rate and
	// whether it limits requests now (after the API's 429s).
	Rate func() (perSecond float64, limited bool)
}

// Estimate sets Prism's typical time for the generations submitted at
// since, so that the heartbeat can say how far past it the wait is.
func (p *Progress) Estimate(typical time.Duration, since time.Time) {
	p.mu.Lock()
	p.typical, p.since = typical, since
	p.mu.Unlock()
}

// NewProgress starts tracking ids; start is when the wait began.
func NewProgress(log *Log, ids []string, start time.Time) *Progress {
	return &Progress{log: log, start: start, ids: ids, status: map[string]string{}, sent: map[string]string{}, changes: map[string]int{}, trouble: map[string]string{}, warned: map[string]bool{}}
}

// Event logs one event from the wait. It is safe for concurrent use.
func (p *Progress) Event(e wait.Event) {
	switch e.Kind {
	case wait.Poll:
		p.poll(e)
	case wait.Retry:
		p.retry(e)
	case wait.Resubmit:
		p.resubmit(e)
	}
}

// maxChanges bounds the lines logged for one generation's changes of an
// unfinished status; its verdict is always logged.
const maxChanges = 5

func (p *Progress) poll(e wait.Event) {
	g := e.Gen
	// The status as reported: "completed" with and without a usable video
	// are two states, each worth a line when it is reached.
	status := outcome.GenerationStatus(g)
	final := g.Done() || g.Status == prism.StatusFailed
	p.mu.Lock()
	same := status == p.status[e.ID] && g.Status == p.sent[e.ID]
	p.status[e.ID], p.sent[e.ID] = status, g.Status
	delete(p.trouble, e.ID)
	changes := p.changes[e.ID]
	if !same && !final {
		p.changes[e.ID]++
	}
	p.mu.Unlock()
	if e.Wait > 0 {
		p.log.Debugf("%s: status %q; next poll in %s", e.ID, untrusted.Clip(g.Status, 40), e.Wait)
	}
	switch {
	case same:
		return
	case !final && changes == maxChanges:
		// A status that flips on every read must not flood the log.
		p.log.Infof("%s: its status keeps changing (now %q); further changes are debug lines only", e.ID, untrusted.Clip(g.Status, 40))
		return
	case !final && changes > maxChanges:
		return
	}
	switch {
	case g.Done():
		took := took(g)
		if took != "" {
			took = " in " + took
		}
		p.log.Infof("%s: completed%s; video at %s (signed URL, expires %s)", e.ID, took, download.Redact(g.VideoURL), cmp.Or(ExpiresAt(g.VideoURL), "at an unknown time"))
	case status == outcome.StatusNoVideo:
		p.log.Infof("%s: completed, but the API gives no usable video_url yet; still polling", e.ID)
	case g.Status == prism.StatusFailed:
		p.log.Infof("%s: failed: %s", e.ID, untrusted.Clip(cmp.Or(g.Error, "no reason given"), 300))
	case g.Status == prism.StatusGenerating:
		p.log.Infof("%s: generating", e.ID)
	default:
		p.log.Infof("%s: %q is not a status prism-wait knows; taking it as not finished and polling on", e.ID, untrusted.Clip(g.Status, 40))
	}
}

func (p *Progress) retry(e wait.Event) {
	kind := "error"
	var pe *prism.Error
	if errors.As(e.Err, &pe) {
		kind = pe.Kind()
	}
	p.mu.Lock()
	first := !p.warned[kind]
	p.warned[kind] = true
	p.trouble[e.ID] = kind
	p.mu.Unlock()
	if pe != nil && pe.Meaning() == prism.RateLimited {
		// The request budget says it once, with the rate it settles on.
		p.log.Debugf("%s: %v; waiting for a turn in the request budget", e.ID, e.Err)
		return
	}
	if first {
		p.log.Warningf("Prism API trouble", "%s: %v; retrying with backoff (next in %s). Further %s problems are logged as debug only.",
			e.ID, e.Err, e.Wait.Round(time.Millisecond), kind)
		return
	}
	p.log.Debugf("%s: %v; retrying in %s", e.ID, e.Err, e.Wait.Round(time.Millisecond))
}

// Heartbeat says what is still pending, if anything.
func (p *Progress) Heartbeat(now time.Time) {
	p.mu.Lock()
	var pending []string
	for _, id := range p.ids {
		if s, ok := p.status[id]; !ok || (s != prism.StatusFailed && s != prism.StatusCompleted) {
			line := id + " " + cmp.Or(untrusted.Clip(s, 40), "not read yet")
			if kind := p.trouble[id]; kind != "" {
				line += " (retrying after " + kind + ")"
			}
			pending = append(pending, line)
		}
	}
	typical, since := p.typical, p.since
	p.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	elapsed := now.Sub(p.start)
	past := ""
	if over := now.Sub(since) - typical; typical > 0 && over > 0 {
		past = fmt.Sprintf(" (%s past Prism's typical %s)", over.Round(time.Second), typical)
	}
	if p.Rate != nil {
		if r, limited := p.Rate(); limited {
			past += fmt.Sprintf(" (rate-limited by the API: %s for all)", PerSecond(r))
		}
	}
	p.log.Infof("still waiting after %s%s: %s", elapsed.Round(time.Second), past, strings.Join(pending, ", "))
}

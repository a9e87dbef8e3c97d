package report

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/prism"
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
	status  map[string]string // last status per ID, "" before the first
	trouble map[string]string // kind of the last transient error per ID, until the next status
	warned  map[string]bool   // kinds of transient trouble already warned about
}

// NewProgress starts tracking ids; start is when the wait began.
func NewProgress(log *Log, ids []string, start time.Time) *Progress {
	return &Progress{log: log, start: start, ids: ids, status: map[string]string{}, trouble: map[string]string{}, warned: map[string]bool{}}
}

// Event logs one event from the wait. It is safe for concurrent use.
func (p *Progress) Event(e wait.Event) {
	switch e.Kind {
	case wait.Poll:
		p.poll(e)
	case wait.Retry:
		p.retry(e)
	}
}

func (p *Progress) poll(e wait.Event) {
	g := e.Gen
	p.mu.Lock()
	p.status[e.ID] = g.Status
	delete(p.trouble, e.ID)
	p.mu.Unlock()
	if e.Wait > 0 {
		p.log.Debugf("%s: status %q; next poll in %s", e.ID, clip(g.Status, 40), e.Wait)
	}
	if g.Status == e.Prev {
		return
	}
	switch {
	case g.Status == prism.StatusCompleted && g.VideoURL != "":
		took := took(g)
		if took != "" {
			took = " in " + took
		}
		p.log.Infof("%s: completed%s; video at %s (signed URL, expires %s)", e.ID, took, download.Redact(g.VideoURL), or(ExpiresAt(g.VideoURL), "at an unknown time"))
	case g.Status == prism.StatusCompleted:
		p.log.Infof("%s: completed, but the API gives no video_url yet; still polling", e.ID)
	case g.Status == prism.StatusFailed:
		p.log.Infof("%s: failed: %s", e.ID, clip(or(g.Error, "no reason given"), 300))
	case g.Status == prism.StatusGenerating:
		p.log.Infof("%s: generating", e.ID)
	default:
		p.log.Infof("%s: %q is not a status prism-wait knows; taking it as not finished and polling on", e.ID, clip(g.Status, 40))
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
			line := id + " " + or(clip(s, 40), "not read yet")
			if kind := p.trouble[id]; kind != "" {
				line += " (retrying after " + kind + ")"
			}
			pending = append(pending, line)
		}
	}
	p.mu.Unlock()
	if len(pending) > 0 {
		p.log.Infof("still waiting after %s: %s", now.Sub(p.start).Round(time.Second), strings.Join(pending, ", "))
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

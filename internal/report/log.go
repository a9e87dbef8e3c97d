// Package report tells the user and the next steps what happened: log
// lines and annotations, GitHub step outputs and summary, the results JSON.
// What it all means (exit code, status, titles and advice) is decided by
// outcome; report renders it. Every line, output and summary cell passes through
// one untrusted.Scrubber on its way out, so that nothing from the network
// can form a workflow command, show the key or a signature, or run on
// without bound, whatever the format string was given.
package report

import (
	"fmt"
	"io"
	"sync"

	"github.com/sethvargo/go-githubactions"

	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// MaxLine bounds one log line or annotation message, in bytes.
const MaxLine = 4 << 10

// Log writes human-readable lines: workflow commands inside GitHub Actions,
// plain lines elsewhere. It is safe for concurrent use. Write errors are
// ignored, not panicked on: a broken log must not change the verdict.
type Log struct {
	mu      sync.Mutex
	w       io.Writer
	github  bool
	secrets []string
	scrub   untrusted.Scrubber
}

// NewLog returns a Log writing to w; github selects workflow commands.
func NewLog(w io.Writer, github bool) *Log { return &Log{w: w, github: github} }

// Mask hides secret in the rest of the job's log: the runner masks it,
// and this Log redacts it from every line, so that a CLI run outside
// GitHub Actions never shows it either.
func (l *Log) Mask(secret string) {
	if secret == "" {
		return
	}
	l.Redact(secret)
	if l.github {
		l.write((&githubactions.Command{Name: "add-mask", Message: secret}).String())
	}
}

// Redact removes secret from every later line, without asking the runner
// to mask it: for a credential the runner masks on its own, such as
// ACTIONS_RUNTIME_TOKEN, which a service's error text might echo.
func (l *Log) Redact(secret string) {
	if secret == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, secret)
	l.scrub = untrusted.New(l.secrets...)
}

// Scrubber is the scrubber in use, with the masked secret.
func (l *Log) Scrubber() untrusted.Scrubber {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.scrub
}

// Infof writes a plain line.
func (l *Log) Infof(format string, a ...any) {
	l.write(l.clean(fmt.Sprintf(format, a...)))
}

// Debugf writes a line shown only when the job runs with debug logging.
// Outside GitHub Actions it is dropped.
func (l *Log) Debugf(format string, a ...any) {
	if l.github {
		l.command("debug", nil, fmt.Sprintf(format, a...))
	}
}

// Warningf writes a warning annotation with a title.
func (l *Log) Warningf(title, format string, a ...any) {
	l.annotate("warning", title, fmt.Sprintf(format, a...))
}

// Errorf writes an error annotation with a title.
func (l *Log) Errorf(title, format string, a ...any) {
	l.annotate("error", title, fmt.Sprintf(format, a...))
}

func (l *Log) annotate(level, title, msg string) {
	if l.github {
		l.command(level, githubactions.CommandProperties{"title": l.clean(title)}, msg)
		return
	}
	l.write(l.clean(level + ": " + title + ": " + msg))
}

// command writes a workflow command of ours, its message scrubbed;
// go-githubactions then escapes message and properties as the runner
// decodes them.
func (l *Log) command(name string, props githubactions.CommandProperties, msg string) {
	l.write((&githubactions.Command{Name: name, Properties: props, Message: l.clean(msg)}).String())
}

func (l *Log) clean(s string) string {
	return l.Scrubber().Line(s, MaxLine)
}

func (l *Log) write(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line+"\n") // a broken log must not change the verdict
}

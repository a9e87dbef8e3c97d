// Package report tells the user and the next steps what happened: log
// lines and annotations, GitHub step outputs and summary, the results JSON,
// and the exit code. Everything that came from the network is treated as
// untrusted here: bounded, stripped of signatures and escaped, so that it
// can neither inject workflow commands nor other step outputs.
package report

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"
)

// Log writes human-readable lines: workflow commands inside GitHub Actions,
// plain lines elsewhere. It is safe for concurrent use. Write errors are
// kept, not panicked on: a broken log must not change the verdict.
type Log struct {
	mu     sync.Mutex
	w      io.Writer
	github bool
	err    error
}

// NewLog returns a Log writing to w; github selects workflow commands.
func NewLog(w io.Writer, github bool) *Log { return &Log{w: w, github: github} }

// Mask hides secret in the rest of the job's log. Outside GitHub Actions
// there is nothing to do: the secret is simply never printed.
func (l *Log) Mask(secret string) {
	if l.github && secret != "" {
		l.command("add-mask", nil, secret)
	}
}

// Infof writes a plain line.
func (l *Log) Infof(format string, a ...any) {
	l.write(oneLine(fmt.Sprintf(format, a...)))
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

// Err is the first error met while writing, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Log) annotate(level, title, msg string) {
	if l.github {
		l.command(level, githubactions.CommandProperties{"title": title}, msg)
		return
	}
	l.write(level + ": " + title + ": " + oneLine(msg))
}

// command writes a workflow command; go-githubactions escapes the message
// and properties as the runner decodes them.
func (l *Log) command(name string, props githubactions.CommandProperties, msg string) {
	l.write((&githubactions.Command{Name: name, Properties: props, Message: msg}).String())
}

func (l *Log) write(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := io.WriteString(l.w, line+"\n"); err != nil && l.err == nil {
		l.err = err
	}
}

// oneLine keeps text on one line, so that nothing in it can start a line
// the runner would read as a workflow command. CR and LF are encoded as
// the runner's own command encoding does.
func oneLine(s string) string {
	return lineBreaks.Replace(s)
}

var lineBreaks = strings.NewReplacer("\r", "%0D", "\n", "%0A")

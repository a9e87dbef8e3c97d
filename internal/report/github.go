package report

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// maxSummary keeps the step summary under GitHub's 1 MiB limit per step.
const maxSummary = 1000 << 10

// WriteOutputs appends the outputs to the $GITHUB_OUTPUT file in the
// heredoc form, with a random delimiter per call. go-githubactions uses a
// fixed delimiter, which a value from the network could contain to inject
// other outputs; a random one cannot be guessed, and is checked anyway.
func WriteOutputs(path string, outs []Output) error {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("failed to make an output delimiter: %w", err)
	}
	delim := "ghadelimiter_" + hex.EncodeToString(raw[:])
	var b strings.Builder
	for _, o := range outs {
		if strings.Contains(o.Value, delim) || strings.ContainsAny(o.Name, "<=\r\n") {
			return fmt.Errorf("failed to write output %q: it contains the delimiter", o.Name)
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", o.Name, delim, o.Value, delim)
	}
	return appendFile(path, b.String())
}

// WriteSummary appends markdown to the $GITHUB_STEP_SUMMARY file.
func WriteSummary(path, markdown string) error {
	return appendFile(path, markdown)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("failed to open %s: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	return f.Close()
}

// Summary renders the step summary: a table with one row per generation.
// It never contains a presigned URL; every value from the network is
// escaped for Markdown and bounded.
func (r Run) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Prism generations\n\n%s in %s, %s.\n\n", r.Tally(), r.Elapsed.Round(time.Second), r.RequestCount())
	for _, f := range []outcome.Facts{{Submit: r.Submit}, {Lost: r.Lost}} {
		if v := r.verdict(f); v.Code != outcome.ExitOK {
			fmt.Fprintf(&b, "**%s:** %s\n\n", v.Title, r.advice(v.Advice, 1000))
		}
	}
	b.WriteString("| Generation | Status | Time | Share page | Video | Problem |\n|---|---|---|---|---|---|\n")
	if r.NotWaiting {
		for _, id := range r.IDs {
			status, failed := r.submitted(id)
			problem := ""
			if failed != nil {
				problem = " " + r.advice(MarkedFailed(*failed), 1000)
			}
			fmt.Fprintf(&b, "| `%s` | %s | | | |%s |\n", id, status, problem)
		}
	}
	for _, res := range r.Results {
		row := fmt.Sprintf("| `%s` | %s | %s | %s | %s | %s |\n",
			res.ID, r.md(outcome.StatusOf(res.facts()), 40), took(res.Gen), r.link(res.Gen.ShareURL), r.video(res), r.advice(r.verdict(res.facts()).Advice, 1000))
		if b.Len()+len(row) > maxSummary {
			b.WriteString("\n(more generations left out: the summary is limited to 1 MiB)\n")
			break
		}
		b.WriteString(row)
	}
	return b.String()
}

// Tally says how many generations ended how, e.g. "2 completed, 1 failed",
// counting the created ones past those listed (MaxListed, Fit) as not
// waited for.
func (run Run) Tally() string {
	if run.NotWaiting {
		n := max(run.Created, len(run.IDs))
		tally := fmt.Sprintf("%d submitted", n)
		if run.Resumed {
			tally = fmt.Sprintf("%d handed on, submitted by an earlier attempt", n)
		}
		if len(run.Marked) > 0 {
			tally += fmt.Sprintf(", %d of them marked failed", len(run.Marked))
		}
		if run.Lost != nil {
			tally += fmt.Sprintf(", %d with no ID to hand on", run.Lost.Count)
		}
		return tally
	}
	var parts []string
	var done, failed, noVideo, notWaited, other, lost int
	if run.Lost != nil {
		lost = run.Lost.Count
	}
	if len(run.Results) > 0 {
		notWaited = max(run.Created-len(run.Results), 0)
	}
	for _, r := range run.Results {
		switch {
		case errors.Is(r.Err, outcome.ErrNotWaited):
			notWaited++
		case r.Gen.Status == prism.StatusFailed:
			failed++
		case r.Gen.Done():
			done++
		case outcome.GenerationStatus(r.Gen) == outcome.StatusNoVideo:
			noVideo++
		default:
			other++
		}
	}
	for _, p := range []struct {
		n    int
		what string
	}{{done, "completed"}, {noVideo, "completed without a usable video"}, {failed, "failed"}, {other, "without a verdict"}, {notWaited, "not waited for"}, {lost, "with no ID to wait for"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return "nothing waited for" // no generation: invalid input, or the submit failed
	}
	return strings.Join(parts, ", ")
}

// video is the saved file, its size, and the resolution and duration
// its container gives: "videos/gen_1.mp4 (3.0 MiB, 1920x1080, 8s)".
func (r Run) video(res Result) string {
	f := res.File
	if f == nil {
		return ""
	}
	facts := []string{download.Size(f.Bytes)}
	if m := res.media(); m != nil {
		if m.Width > 0 && m.Height > 0 {
			facts = append(facts, fmt.Sprintf("%dx%d", m.Width, m.Height))
		}
		if s := durationSeconds(m); s != "" {
			facts = append(facts, s+" s")
		}
	}
	return fmt.Sprintf("%s (%s)", r.md(f.Path, 200), strings.Join(facts, ", "))
}

// took is the time from created_at to completed_at, when both parse.
func took(g prism.Generation) string {
	c, err1 := time.Parse(time.RFC3339, g.CreatedAt)
	d, err2 := time.Parse(time.RFC3339, g.CompletedAt)
	if err1 != nil || err2 != nil || d.Before(c) {
		return ""
	}
	return d.Sub(c).Round(time.Second).String()
}

// link renders an https share page as a Markdown link.
func (r Run) link(u string) string {
	if u = r.url(u); !strings.HasPrefix(u, "https://") || strings.ContainsAny(u, "()<>|\\\"'`") {
		return r.md(u, 100)
	}
	return "[open](" + u + ")"
}

var mdEscaper = strings.NewReplacer(
	"\\", "\\\\", "|", "\\|", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]",
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "\r", " ", "\n", " ",
)

// md scrubs text for a Markdown table cell, bounded to n bytes, and
// escapes it for Markdown.
func (r Run) md(s string, n int) string {
	return mdEscaper.Replace(r.Scrub.Line(s, n))
}

// advice is md for a verdict's advice, cut in its middle: its end says
// what to do, after what it quotes from the network.
func (r Run) advice(s string, n int) string {
	return mdEscaper.Replace(untrusted.ClipMiddle(r.Scrub.Line(s, MaxLine), n))
}

// ParseOutputs reads a $GITHUB_OUTPUT file as the runner does: name=value
// lines and name<<DELIM heredocs. The demo and the tests use it to read
// what a step would hand on.
func ParseOutputs(content string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(content, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			continue
		}
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var value []string
			for i++; ; i++ {
				if i >= len(lines) {
					return nil, fmt.Errorf("output %q: no closing delimiter", name)
				}
				if lines[i] == delim {
					break
				}
				value = append(value, lines[i])
			}
			out[name] = strings.Join(value, "\n")
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d is neither name=value nor name<<DELIMITER", i+1)
		}
		out[name] = value
	}
	return out, nil
}

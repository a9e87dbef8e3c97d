package main

// A runner-faithful reader of workflow commands (RUNNER.md, "Outputs,
// logs, masking"): the runner tries every stdout and stderr line of a
// Docker action; a line whose trimmed start is "::" is a command
// "::name key=val,key=val::message", and otherwise "##[name params]message"
// anywhere in the line is a legacy command. Every e2e run passes its
// output through checkCommands, so that any command the action did not
// mean to send fails the test.

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// wfCommand is one workflow command as the runner reads it.
type wfCommand struct {
	Name    string // lower-cased, as the runner compares names
	Props   map[string]string
	Message string
	Legacy  bool
}

// msgUnescaper and propUnescaper undo the command encoding of messages and properties.
var (
	msgUnescaper  = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
	propUnescaper = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
)

// parseCommands returns every command the runner could read from one
// line: the v2 command when the line is one, and every legacy "##[…]"
// anywhere in it (the runner takes the first; this parser is stricter and
// reports them all).
func parseCommands(line string) []wfCommand {
	var out []wfCommand
	if t := strings.TrimLeft(line, " \t\r\n\f\v"); strings.HasPrefix(t, "::") {
		if end := strings.Index(t[2:], "::"); end >= 0 {
			info, msg := t[2:2+end], t[2+end+2:]
			name, params, _ := strings.Cut(info, " ")
			c := wfCommand{Name: strings.ToLower(name), Props: map[string]string{}, Message: msgUnescaper.Replace(msg)}
			for _, kv := range strings.Split(params, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
					c.Props[k] = propUnescaper.Replace(v)
				}
			}
			out = append(out, c)
		}
	}
	for rest := line; ; {
		i := strings.Index(rest, "##[")
		if i < 0 {
			break
		}
		rest = rest[i+3:]
		rb := strings.IndexByte(rest, ']')
		if rb < 0 {
			break
		}
		info := rest[:rb]
		name, params, _ := strings.Cut(info, " ")
		c := wfCommand{Name: strings.ToLower(name), Props: map[string]string{}, Message: rest[rb+1:], Legacy: true}
		for _, kv := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				c.Props[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// knownTitles are the annotation titles the action's own code uses
// (internal/report, internal/cli).
var knownTitles = []string{
	"Invalid input", "Prism API trouble", "Generation failed", "No verdict in time",
	"Prism API refused the request", "Download failed", "Cancelled", "Stopped early",
	"Internal error", "Cannot write step outputs", "Submit outcome unknown",
	"Prism API refused the submission", "Submit did not finish", "Submit not accepted yet",
	"Timeout may be too short",
	"Prism API rate limit", "Cannot write the results",
}

// commandProblems lists every command in one stream's text that the
// action did not mean to send. key is the API key in use ("" for none):
// the only add-mask allowed is the first stdout line, masking it.
func commandProblems(stream, text, key string) []string {
	var bad []string
	for i, line := range strings.Split(text, "\n") {
		for _, c := range parseCommands(line) {
			ok := false
			switch {
			case c.Legacy:
			case c.Name == "add-mask":
				ok = stream == "stdout" && i == 0 && key != "" && c.Message == key && len(c.Props) == 0
			case c.Name == "debug":
				ok = len(c.Props) == 0
			case c.Name == "error" || c.Name == "warning" || c.Name == "notice":
				_, hasTitle := c.Props["title"]
				ok = hasTitle && len(c.Props) == 1 && slices.Contains(knownTitles, c.Props["title"])
			}
			if !ok {
				bad = append(bad, stream+" line "+strconv.Itoa(i+1)+": "+clipForTest(line, 300))
			}
		}
	}
	return bad
}

// checkCommands fails t on any command in stdout or stderr that the action
// did not mean to send.
func checkCommands(t testing.TB, stdout, stderr, key string) {
	t.Helper()
	for _, p := range append(commandProblems("stdout", stdout, key), commandProblems("stderr", stderr, key)...) {
		t.Errorf("the runner would read a command the action did not mean to send: %s", p)
	}
}

func clipForTest(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func TestRunnerCommandParser(t *testing.T) {
	t.Parallel()
	const key = "prism_sk_parser_0123456789"
	for _, tc := range []struct {
		name, stream, text string
		bad                int
	}{
		{"our annotation", "stdout", "::error title=No verdict in time::gen_x: timeout reached", 0},
		{"our warning with escaped title", "stdout", "::warning title=Prism API trouble::gen_x: HTTP 503%0Aretrying", 0},
		{"our debug", "stdout", "::debug::gen_x: status \"generating\"", 0},
		{"plain line", "stdout", "gen_x: generating", 0},
		{"mask first", "stdout", "::add-mask::" + key + "\ngen_x: generating", 0},
		{"mask later", "stdout", "gen_x: generating\n::add-mask::" + key, 1},
		{"mask of another value", "stdout", "::add-mask::prism_sk_other", 1},
		{"mask on stderr", "stderr", "::add-mask::" + key, 1},
		{"legacy mid-line", "stdout", "x ##[set-output name=a;]b", 1},
		{"legacy error mid-line", "stdout", "gen_x failed: render failed ##[error]fake", 1},
		{"two legacy commands", "stdout", "a ##[set-output name=a;]b ##[error]c", 2},
		{"legacy at line start", "stderr", "##[stop-commands]tok12345", 1},
		{"stop-commands after spaces", "stdout", "  ::stop-commands::tok", 1},
		{"set-output", "stderr", "::set-output name=status::completed", 1},
		{"unknown title", "stdout", "::error title=Gotcha::x", 1},
		{"no title", "stdout", "::error::x", 1},
		{"extra property", "stdout", "::error title=Generation failed,file=x.go::x", 1},
		{"neutralized legacy", "stdout", "gen_x failed: render failed ## [error]fake", 0},
		{"neutralized v2", "stdout", "  : :stop-commands::tok", 0},
		{"v2 without closing", "stdout", "::not a command", 0},
		{"legacy without bracket end", "stdout", "a ##[error b", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := commandProblems(tc.stream, tc.text, key); len(got) != tc.bad {
				t.Errorf("%d problems, want %d: %q", len(got), tc.bad, got)
			}
		})
	}
	// The parts, as the runner reads them.
	c := parseCommands("  ::error title=No verdict in time%2C really::gen%0Ax")
	if len(c) != 1 || c[0].Name != "error" || c[0].Props["title"] != "No verdict in time, really" || c[0].Message != "gen\nx" {
		t.Errorf("parsed %+v", c)
	}
	c = parseCommands("x ##[set-output name=a;]b")
	if len(c) != 1 || !c[0].Legacy || c[0].Name != "set-output" || c[0].Props["name"] != "a" || c[0].Message != "b" {
		t.Errorf("parsed %+v", c)
	}
}

package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/report"
)

// brokenPipe is a stdout whose reader is gone.
type brokenPipe struct{ writes int }

func (b *brokenPipe) Write([]byte) (int, error) { b.writes++; return 0, syscall.EPIPE }

// TestABrokenStdoutIsAWarning: the CLI in a run: step writes the step's
// outputs first; a results JSON that stdout does not take is a warning on
// stderr, and the exit code stays the results'.
func TestABrokenStdoutIsAWarning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		dir := t.TempDir()
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(dir, "out"), "PRISM_API_KEY": key, "PRISM_POLL_INTERVAL": "10ms"}
		stdout := &brokenPipe{}
		var stderr bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Args: []string{"--base-url", base.URL, "gen_fail"}, Stdout: stdout, Stderr: &stderr,
			Wd: dir, Transport: base.Transport})
		if code != outcome.ExitFailed {
			t.Errorf("exit code %d, want the results' %d", code, outcome.ExitFailed)
		}
		if stdout.writes != 1 || !strings.Contains(stderr.String(), "::warning title=Cannot write the results::the results JSON could not be written to stdout ("+syscall.EPIPE.Error()+")") {
			t.Errorf("%d writes to stdout; stderr:\n%s", stdout.writes, stderr.String())
		}
		raw, err := os.ReadFile(env["GITHUB_OUTPUT"])
		if outs, _ := report.ParseOutputs(string(raw)); errors.Is(err, os.ErrNotExist) || outs["status"] != "failed" {
			t.Errorf("outputs %q, %v", outs, err)
		}
	})
}

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

// fullDisk is a stdout on a disk with no room left.
type fullDisk struct{}

func (fullDisk) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestAStdoutThatLosesTheResultsIsExit1: outside GitHub Actions the
// results JSON is all there is; one that is lost for another reason than
// a reader that stopped is an error, and the closing line says exit 1.
func TestAStdoutThatLosesTheResultsIsExit1(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		var stderr bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(map[string]string{"PRISM_API_KEY": key, "PRISM_POLL_INTERVAL": "10ms"}),
			Args: []string{"--base-url", base.URL, "gen_ok"}, Stdout: fullDisk{}, Stderr: &stderr, Wd: t.TempDir(), Transport: base.Transport})
		if want := "error: Cannot write the results: the results JSON could not be written to stdout (" + syscall.ENOSPC.Error() + "): check where"; code != outcome.ExitFailed ||
			!strings.Contains(stderr.String(), want) || !strings.HasSuffix(stderr.String(), "; exit code 1\n") {
			t.Errorf("code %d, want 1 and %q last:\n%s", code, want, stderr.String())
		}
	})
}

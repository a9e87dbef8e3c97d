package e2e

// A CLI whose stdout is a pipe nobody reads any more, as in
// `prism-wait gen_a | (exec 0<&-; sleep 1)`: the step's outputs are
// written all the same, the lost results JSON is a warning, and the exit
// code is the results'.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prism-wait/prism-wait/internal/report"
)

func TestAClosedStdoutLosesOnlyTheResultsJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for _, tc := range []struct {
		id     string
		code   int
		status string
	}{{"gen_ok", 0, "completed"}, {"gen_failed", 1, "failed"}} {
		for _, github := range []bool{true, false} {
			t.Run(tc.id+map[bool]string{true: " run step", false: " cli"}[github], func(t *testing.T) {
				t.Parallel()
				sim := startSim(t, e2eScenarios)
				c := newContainer(t)
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				r.Close() // the reader is gone before anything is written
				defer w.Close()
				args := []string{"--poll-interval", "20ms", "--base-url", sim.base, tc.id}
				env := []string{"HOME=" + c.path("/github/home"), "PRISM_API_KEY=" + e2eKey}
				if github {
					env = append(env, "GITHUB_ACTIONS=true", "GITHUB_WORKSPACE="+c.path("/github/workspace"),
						"GITHUB_OUTPUT="+c.path("/github/file_commands/set_output_e2e"))
				}
				cmd := c.launcher.command(c, env, args)
				var stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = w, &stderr
				cmd.Run()
				if st := cmd.ProcessState; !st.Exited() || st.ExitCode() != tc.code {
					t.Errorf("%v, want exit code %d\n%s", st, tc.code, stderr.String())
				}
				if !strings.Contains(stderr.String(), "Cannot write the results") {
					t.Errorf("no warning that the results JSON was lost:\n%s", stderr.String())
				}
				for _, p := range commandProblems("stdout", stderr.String(), e2eKey) {
					t.Errorf("the runner would read a command the CLI did not mean to send: %s", p)
				}
				if github {
					raw, _ := os.ReadFile(filepath.Join(c.root, "github/file_commands/set_output_e2e"))
					outs, err := report.ParseOutputs(string(raw))
					if err != nil || outs["status"] != tc.status || !strings.Contains(outs["results"], tc.id) {
						t.Errorf("outputs %q (%v), want status %s and the results", outs, err, tc.status)
					}
				}
			})
		}
	}
}

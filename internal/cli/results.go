package cli

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/report"
)

// printResults writes the CLI's results JSON on stdout, last, so that a
// stdout that cannot take it costs nothing else, and returns the exit
// code, made worse where it failed. A reader that stopped reading (a
// pipe's EPIPE: main makes it an error, not death by SIGPIPE) chose to
// stop: a warning. Any other failure, such as a full disk under
// `> results.json`, loses the results: exit 1.
func printResults(env Env, log *report.Log, cfg config.Config, run report.Run, code int) int {
	if cfg.Action || len(run.Results) == 0 && !run.NotWaiting {
		return code
	}
	_, err := fmt.Fprintf(env.Stdout, "%s\n", run.JSON())
	switch {
	case err == nil:
	case errors.Is(err, syscall.EPIPE):
		log.Warningf("Cannot write the results", "the results JSON could not be written to stdout (%v): the program reading the command's output stopped reading. The exit code and, in GitHub Actions, the step's outputs still tell the results.", err)
	default:
		log.Errorf("Cannot write the results", "the results JSON could not be written to stdout (%s): check where the command's output goes (a full disk, a closed file).", log.Scrubber().Line(err.Error(), 500))
		code = outcome.Worse(code, outcome.ExitFailed)
	}
	return code
}

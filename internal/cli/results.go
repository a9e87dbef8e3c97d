package cli

import (
	"fmt"

	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/report"
)

// printResults writes the CLI's results JSON on stdout. A stdout that
// cannot take it (a pipe whose reader is gone: main makes that an EPIPE
// error, not death by SIGPIPE) is a warning, and changes no exit code:
// the outputs and summary are written already, and the exit code is the
// results'.
func printResults(env Env, log *report.Log, cfg config.Config, run report.Run) {
	if cfg.Action || len(run.Results) == 0 && !run.NotWaiting {
		return
	}
	if _, err := fmt.Fprintf(env.Stdout, "%s\n", run.JSON()); err != nil {
		log.Warningf("Cannot write the results", "the results JSON could not be written to stdout (%v); is the command's output piped to a program that stopped reading? The exit code and, in GitHub Actions, the step's outputs still tell the results.", err)
	}
}

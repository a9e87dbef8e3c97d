// Command prism-sim is a local fake of the Prism API.
//
//	prism-sim serve [--addr 127.0.0.1:8787] [--scenarios FILE] [--rate-limit N] [--burst N]
//	prism-sim demo
//
// serve answers like the Prism API from scripted lifecycles and
// submissions, with an optional per-key rate limit, for
// rehearsing a workflow without a Prism account. demo starts it on a free
// port and runs prism-wait against it, showing what a GitHub log, the step
// outputs and the step summary would show.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = "usage: prism-sim serve [--addr 127.0.0.1:8787] [--scenarios FILE] [--rate-limit N] [--burst N] | prism-sim demo\n" +
	"(prism-sim serve --help for serve's flags; cmd/prism-sim/README.md for the scenarios)"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "demo":
		switch {
		case len(args) == 1:
			return demo(ctx, stdout, stderr)
		case slices.Contains([]string{"-h", "-help", "--help"}, args[1]):
			fmt.Fprintln(stdout, "usage: prism-sim demo\n\nRuns prism-wait's action code against a local simulator in two steps, as GitHub\nActions would, prints their logs, outputs and summaries, and exits 0 when every\ngeneration behaved as scripted. It takes no flags.")
			return 0
		default:
			fmt.Fprintf(stderr, "prism-sim demo takes no arguments, not %q (prism-sim demo --help)\n", args[1])
			return 2
		}
	default:
		fmt.Fprintf(stderr, "unknown command %q, valid commands are \"serve\" and \"demo\"\n", args[0])
		return 2
	}
}

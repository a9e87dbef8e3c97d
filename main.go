// Command prism-wait waits for Prism video generations to finish: a GitHub
// Action (Docker) and a plain CLI for any CI. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/prism-wait/prism-wait/internal/cli"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version string

func main() {
	// The runner sends SIGINT, then SIGTERM, to cancel a job. As PID 1 in
	// the container, the process would otherwise ignore both.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A write to a closed stdout or stderr then fails with EPIPE instead of
	// killing the process before it has written the step's outputs.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	wd, _ := os.Getwd()
	code := cli.Run(ctx, cli.Env{
		LookupEnv: os.LookupEnv, Args: os.Args[1:], Stdout: os.Stdout, Stderr: os.Stderr,
		Wd: wd, Version: version,
	})
	stop()
	os.Exit(code)
}

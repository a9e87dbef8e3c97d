package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	addr, scenario, code := serveConfig(args, stderr)
	if code != 0 {
		return code
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "prism-sim: %v\n", err)
		return 1
	}
	sim := prismsim.New(scenario)
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "prism-sim: serving the Prism API at http://%s/api\nprism-sim: generations: %s\nprism-sim: templates: %s\nprism-sim: any key prism_sk_… is accepted (%s answers 401, %s 403)\n",
		ln.Addr(), orNone(slices.Sorted(maps.Keys(scenario.Generations))), orNone(slices.Sorted(maps.Keys(scenario.Templates))),
		prismsim.KeyRevoked, prismsim.KeyNoScope)
	if n := scenario.RateLimit.PerSecond; n > 0 {
		fmt.Fprintf(stdout, "prism-sim: rate limit: %d requests per second per key\n", n)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "prism-sim: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sim.Close()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "prism-sim: %v\n", err)
	}
	return 0
}

// serveConfig reads serve's flags and its scenario; code is non-zero
// when they are wrong. --rate-limit, when given, overrides the file's
// rate_limit, so that one file serves rehearsals with and without limits.
func serveConfig(args []string, stderr io.Writer) (addr string, scenario prismsim.Scenario, code int) {
	fs := flag.NewFlagSet("prism-sim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	file := fs.String("scenarios", "", "scenario file (JSON); the built-in one when empty")
	rate := fs.Int("rate-limit", 0, "requests per second per API key, 0 for none; overrides the file's rate_limit")
	if err := fs.Parse(args); err != nil {
		return "", prismsim.Scenario{}, 2
	}
	if *rate < 0 {
		fmt.Fprintf(stderr, "prism-sim serve: --rate-limit is %d, want 0 (no limit) or more\n", *rate)
		return "", prismsim.Scenario{}, 2
	}
	scenario = prismsim.Default()
	if *file != "" {
		var err error
		if scenario, err = prismsim.LoadScenario(*file); err != nil {
			fmt.Fprintf(stderr, "prism-sim: %v\n", err)
			return "", prismsim.Scenario{}, 2
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "rate-limit" {
			scenario.RateLimit.PerSecond = *rate
		}
	})
	return addr, scenario, 0
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

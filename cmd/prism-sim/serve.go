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
	addr, scenario, code, ok := serveConfig(args, stdout, stderr)
	if !ok {
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
	if rl := scenario.RateLimit; rl.PerSecond > 0 {
		burst := ""
		if rl.Burst > 0 {
			burst = fmt.Sprintf(", at most %d at once", rl.Burst)
		}
		fmt.Fprintf(stdout, "prism-sim: rate limit: %d requests per second per key%s, shared by every client using the key\n", rl.PerSecond, burst)
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

// dashes writes the flag package's -name as --name, as the docs do.
var dashes = strings.NewReplacer(": -", ": --", "flag -", "flag --")

// serveConfig reads serve's flags and its scenario. When not ok, serve
// exits with code at once: 2 when they are wrong, 0 after --help, which
// prints the flags on stdout. --rate-limit and --burst, when given,
// override the file's rate_limit, so that one file serves rehearsals with
// and without limits.
func serveConfig(args []string, stdout, stderr io.Writer) (addr string, scenario prismsim.Scenario, code int, ok bool) {
	fs := flag.NewFlagSet("prism-sim serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // its errors are written below, naming flags with --
	fs.Usage = func() {}
	fs.StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	file := fs.String("scenarios", "", "scenario file (JSON); the built-in one when empty")
	rate := fs.Int("rate-limit", 0, "requests per second per API key, 0 for none; overrides the file's rate_limit")
	burst := fs.Int("burst", 0, "requests a key may send at once, 0 for as many as --rate-limit; overrides the file's rate_limit.burst")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: prism-sim serve [flags]\n\nServes the Prism API from a scenario (cmd/prism-sim/README.md) until interrupted.\n\nFlags:")
		var defaults strings.Builder
		fs.SetOutput(&defaults)
		fs.PrintDefaults()
		fmt.Fprint(stdout, strings.ReplaceAll("\n"+defaults.String(), "\n  -", "\n  --")[1:])
		return "", prismsim.Scenario{}, 0, false
	} else if err != nil {
		fmt.Fprintf(stderr, "prism-sim serve: %s (prism-sim serve --help lists the flags)\n", dashes.Replace(err.Error()))
		return "", prismsim.Scenario{}, 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "prism-sim serve: unexpected argument %q (prism-sim serve --help lists the flags)\n", fs.Arg(0))
		return "", prismsim.Scenario{}, 2, false
	}
	if *rate < 0 {
		fmt.Fprintf(stderr, "prism-sim serve: --rate-limit is %d, want 0 (no limit) or more\n", *rate)
		return "", prismsim.Scenario{}, 2, false
	}
	if *burst < 0 {
		fmt.Fprintf(stderr, "prism-sim serve: --burst is %d, want 0 (as many as --rate-limit) or more\n", *burst)
		return "", prismsim.Scenario{}, 2, false
	}
	scenario = prismsim.Default()
	if *file != "" {
		var err error
		if scenario, err = prismsim.LoadScenario(*file); err != nil {
			fmt.Fprintf(stderr, "prism-sim: %v\n", err)
			return "", prismsim.Scenario{}, 2, false
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "rate-limit":
			scenario.RateLimit.PerSecond = *rate
		case "burst":
			scenario.RateLimit.Burst = *burst
		}
	})
	return addr, scenario, 0, true
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

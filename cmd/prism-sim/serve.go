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

// serveConfig reads serve's flags and its scenario; code is non-zero
// when they are wrong. --rate-limit and --burst, when given, override the
// file's rate_limit, so that one file serves rehearsals with and without
// limits.
func serveConfig(args []string, stderr io.Writer) (addr string, scenario prismsim.Scenario, code int) {
	fs := flag.NewFlagSet("prism-sim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	file := fs.String("scenarios", "", "scenario file (JSON); the built-in one when empty")
	rate := fs.Int("rate-limit", 0, "requests per second per API key, 0 for none; overrides the file's rate_limit")
	burst := fs.Int("burst", 0, "requests a key may send at once, 0 for as many as --rate-limit; overrides the file's rate_limit.burst")
	if err := fs.Parse(args); err != nil {
		return "", prismsim.Scenario{}, 2
	}
	if *rate < 0 {
		fmt.Fprintf(stderr, "prism-sim serve: --rate-limit is %d, want 0 (no limit) or more\n", *rate)
		return "", prismsim.Scenario{}, 2
	}
	if *burst < 0 {
		fmt.Fprintf(stderr, "prism-sim serve: --burst is %d, want 0 (as many as --rate-limit) or more\n", *burst)
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
		switch f.Name {
		case "rate-limit":
			scenario.RateLimit.PerSecond = *rate
		case "burst":
			scenario.RateLimit.Burst = *burst
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

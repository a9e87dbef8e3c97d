package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("prism-sim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8787", "address to listen on")
	file := fs.String("scenarios", "", "scenario file (JSON); the built-in one when empty")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	scenario := prismsim.Default()
	if *file != "" {
		var err error
		if scenario, err = prismsim.LoadScenario(*file); err != nil {
			fmt.Fprintf(stderr, "prism-sim: %v\n", err)
			return 2
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "prism-sim: %v\n", err)
		return 1
	}
	sim := prismsim.New(scenario)
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	ids := make([]string, 0, len(scenario.Generations))
	for id := range scenario.Generations {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fmt.Fprintf(stdout, "prism-sim: serving the Prism API at http://%s/api\nprism-sim: generations: %s\nprism-sim: any key prism_sk_… is accepted (%s answers 401, %s 403)\n",
		ln.Addr(), strings.Join(ids, ", "), prismsim.KeyRevoked, prismsim.KeyNoScope)

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

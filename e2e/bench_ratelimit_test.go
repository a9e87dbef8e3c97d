package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/cli"
	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// BenchmarkRateLimited runs prism-wait in-process (cli.Run) against a simulator that
// allows the key a few requests per second (answering 429 with
// Retry-After above that), while every generation completes 3s after its
// first read, polled every 250ms. It reports the 429s per generation and
// the time to the last verdict against the ideal: 3s, plus one read of
// every generation at the allowed rate. Without a limit it reports the
// requests against the cadence's 100 × 3s ÷ 250ms.
func BenchmarkRateLimited(b *testing.B) {
	const done, poll = 3 * time.Second, 250 * time.Millisecond
	for _, c := range []struct{ gens, perSecond int }{{20, 5}, {50, 10}, {100, 0}} {
		b.Run(fmt.Sprintf("gens=%d/limit=%d", c.gens, c.perSecond), func(b *testing.B) {
			var limited, requests int
			var took time.Duration
			for b.Loop() {
				st, elapsed := rateLimitedRun(b, c.gens, c.perSecond, done, poll)
				limited += st.RateLimited
				requests += st.Requests
				took += elapsed
			}
			n := float64(b.N)
			b.ReportMetric(float64(limited)/n/float64(c.gens), "429s/gen")
			b.ReportMetric(float64(requests)/n/float64(c.gens), "requests/gen")
			if c.perSecond > 0 {
				ideal := done + time.Duration(c.gens)*time.Second/time.Duration(c.perSecond)
				b.ReportMetric(float64(took)/n/float64(ideal), "x-ideal-time")
			} else {
				b.ReportMetric(float64(requests)/n/float64(c.gens*int(done/poll)), "x-cadence-requests")
			}
			b.ReportMetric(took.Seconds()/n, "s-to-last-verdict")
		})
	}
}

func rateLimitedRun(b *testing.B, gens, perSecond int, done, poll time.Duration) (prismsim.APIStats, time.Duration) {
	b.Helper()
	var sc strings.Builder
	ids := make([]string, gens)
	fmt.Fprintf(&sc, `{"rate_limit": {"per_second": %d}, "generations": {`, perSecond)
	for i := range ids {
		ids[i] = fmt.Sprintf("gen_%03d", i)
		if i > 0 {
			sc.WriteString(",")
		}
		fmt.Fprintf(&sc, `%q: {"steps": [{"status": "generating", "for": %q}, {"status": "completed"}]}`, ids[i], done.String())
	}
	sc.WriteString("}}")
	scenario, err := prismsim.ParseScenario([]byte(sc.String()))
	if err != nil {
		b.Fatal(err)
	}
	sim := serveSim(b, scenario, nil)
	env := map[string]string{"PRISM_API_KEY": "prism_sk_bench"}
	args := append([]string{"--base-url", sim.base, "--poll-interval", poll.String(), "--timeout", "2m"}, ids...)
	start := time.Now()
	code := cli.Run(context.Background(), cli.Env{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Args:      args, Stdout: io.Discard, Stderr: io.Discard, Wd: b.TempDir(),
	})
	elapsed := time.Since(start)
	if code != 0 {
		b.Fatalf("exit code %d", code)
	}
	return sim.APIStats(), elapsed
}

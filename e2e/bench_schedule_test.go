package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/cli"
	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// scheduleCases are the runs where the request budget once made things
// slower than no budget at all: each is run with and without it.
var scheduleCases = []struct {
	name, scenario string
	ids            []string // the generations that reach a verdict
	refused        []string // refused for ever: waited for, never seen
	poll, max      time.Duration
	timeout        time.Duration
}{
	{name: "refused-forever", scenario: `{"generations": {
		"gen_fail": {"from_start": true, "steps": [{"status": "generating", "for": "2s"}, {"status": "failed", "error": "render failed"}]},
		"gen_ok": {"from_start": true, "steps": [{"status": "generating", "for": "1s"}, {"status": "completed"}]},
		"gen_refused": {"steps": [{"http": 429, "retry_after": "1"}]}}}`,
		ids: []string{"gen_fail", "gen_ok"}, refused: []string{"gen_refused"}, poll: 500 * time.Millisecond, max: 30 * time.Second, timeout: 15 * time.Second},
	{name: "storm-then-no-limit", scenario: scheduleGens(100, `{"from_start": true, "steps": [{"status": "generating", "for": "5s"}, {"status": "completed"}]}`, `{"storm": "500ms"}`),
		ids: scheduleIDs(100), poll: time.Second, max: 30 * time.Second, timeout: time.Minute},
	{name: "long-retry-after", scenario: scheduleGens(5, `{"steps": [{"status": "completed"}]}`, `{"storm": "3s"}`),
		ids: scheduleIDs(5), poll: time.Second, max: 30 * time.Second, timeout: time.Minute},
	{name: "one-429-among-faults", scenario: `{"generations": {
		"gen_a": {"steps": [{"http": 429, "retry_after": "1"}, {"status": "generating", "times": 2}, {"status": "completed"}]},
		"gen_b": {"steps": [{"fault": "cut"}, {"http": 502}, {"fault": "garbage"}, {"status": "generating"}, {"status": "completed"}]},
		"gen_c": {"steps": [{"http": 502, "times": 3}, {"status": "completed"}]},
		"gen_d": {"steps": [{"fault": "garbage"}, {"fault": "cut"}, {"status": "generating", "for": "300ms"}, {"status": "completed"}]},
		"gen_e": {"steps": [{"status": "generating", "for": "500ms"}, {"status": "completed"}]}}}`,
		ids: []string{"gen_a", "gen_b", "gen_c", "gen_d", "gen_e"}, poll: 150 * time.Millisecond, max: 200 * time.Millisecond, timeout: 2500 * time.Millisecond},
	{name: "lockstep-burst", scenario: scheduleGens(50, `{"from_start": true, "steps": [{"status": "generating", "for": "8s"}, {"status": "completed"}]}`, `{"per_second": 60, "burst": 10}`),
		ids: scheduleIDs(50), poll: time.Second, max: 30 * time.Second, timeout: time.Minute},
}

func scheduleIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("gen_%03d", i)
	}
	return ids
}

// scheduleGens is a scenario of n generations gen_000… with one
// lifecycle, and the rate limit rl.
func scheduleGens(n int, lifecycle, rl string) string {
	var b strings.Builder
	b.WriteString(`{"generations": {`)
	for i, id := range scheduleIDs(n) {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q: %s", id, lifecycle)
	}
	b.WriteString(`}, "rate_limit": ` + rl + "}")
	return b.String()
}

// BenchmarkScheduleVersusNoBudget runs prism-wait in-process (cli.Run)
// on each case with the request budget and without it (cli.Env.NoBudget)
// and reports the time to the last verdict of each, their ratio (the
// target: at most 1.1), and the 429s per generation.
func BenchmarkScheduleVersusNoBudget(b *testing.B) {
	for _, c := range scheduleCases {
		b.Run(c.name, func(b *testing.B) {
			var with, without time.Duration
			var refusedWith, refusedWithout int
			for b.Loop() {
				d, st := scheduleRun(b, c.scenario, append(slices.Clone(c.ids), c.refused...), c.ids, c.poll, c.max, c.timeout, false)
				with += d
				refusedWith += st.RateLimited
				d, st = scheduleRun(b, c.scenario, append(slices.Clone(c.ids), c.refused...), c.ids, c.poll, c.max, c.timeout, true)
				without += d
				refusedWithout += st.RateLimited
			}
			n := float64(b.N)
			b.ReportMetric(with.Seconds()/n, "s-last-verdict-budget")
			b.ReportMetric(without.Seconds()/n, "s-last-verdict-no-budget")
			b.ReportMetric(float64(with)/float64(without), "x-no-budget")
			b.ReportMetric(float64(refusedWith)/n/float64(len(c.ids)), "429s/gen-budget")
			b.ReportMetric(float64(refusedWithout)/n/float64(len(c.ids)), "429s/gen-no-budget")
		})
	}
}

// scheduleRun runs prism-wait once against the scenario and returns when
// the last of the verdicts of final came, after the start, and what the
// simulator saw.
func scheduleRun(b *testing.B, scenario string, ids, final []string, poll, maxInterval, timeout time.Duration, noBudget bool) (time.Duration, prismsim.APIStats) {
	b.Helper()
	sc, err := prismsim.ParseScenario([]byte(scenario))
	if err != nil {
		b.Fatal(err)
	}
	sim := serveSim(b, sc, nil)
	env := map[string]string{"PRISM_API_KEY": "prism_sk_bench"}
	args := append([]string{"--base-url", sim.base, "--poll-interval", poll.String(), "--max-interval", maxInterval.String(), "--timeout", timeout.String()}, ids...)
	start := time.Now()
	cli.Run(context.Background(), cli.Env{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Args:      args, Stdout: io.Discard, Stderr: io.Discard, Wd: b.TempDir(), NoBudget: noBudget,
	})
	var last time.Duration
	for _, id := range final {
		st := sim.Stats(id)
		if st.Requests == 0 {
			b.Fatalf("%s was never read", id)
		}
		last = max(last, st.Last.Sub(start))
	}
	return last, sim.APIStats()
}

// buildSim builds cmd/prism-sim once for the benchmarks.
var buildSim = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(buildDir, "prism-sim")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/prism-sim")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/prism-sim: %v\n%s", err, out)
	}
	return bin, nil
})

var servingAt = regexp.MustCompile(`serving the Prism API at (http://\S+/api)`)
var refusedWith429 = regexp.MustCompile(`\((\d+) refused with 429\)`)

// BenchmarkManyJobsOneKey: ten prism-wait processes, five generations
// each (poll_interval 1s, each done 5s after the start), started together
// against one `prism-sim serve --rate-limit 10` with one key, as the jobs
// of a matrix share their key's limit without sharing memory. It reports
// the 429s per generation (target: at most 1), the slowest process's last
// verdict against the ideal of 5s + 50 ÷ 10/s = 10s (target: at most
// 1.3), and the slowest against the fastest (target: at most 1.5).
func BenchmarkManyJobsOneKey(b *testing.B) {
	const procs, gens = 10, 5
	bin := build(b)
	simBin, err := buildSim()
	if err != nil {
		b.Fatal(err)
	}
	var ids [procs][]string
	var sc strings.Builder
	sc.WriteString(`{"generations": {`)
	for p := range procs {
		for g := range gens {
			id := fmt.Sprintf("gen_p%d_%d", p, g)
			ids[p] = append(ids[p], id)
			if p+g > 0 {
				sc.WriteString(",")
			}
			fmt.Fprintf(&sc, `%q: {"from_start": true, "steps": [{"status": "generating", "for": "5s"}, {"status": "completed"}]}`, id)
		}
	}
	sc.WriteString("}}")
	file := filepath.Join(b.TempDir(), "matrix.json")
	if err := os.WriteFile(file, []byte(sc.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	var refused int
	var slowest, spread float64
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		srv := exec.CommandContext(ctx, simBin, "serve", "--addr", "127.0.0.1:0", "--scenarios", file, "--rate-limit", "10")
		out, _ := srv.StdoutPipe()
		if err := srv.Start(); err != nil {
			b.Fatal(err)
		}
		base := ""
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if m := servingAt.FindStringSubmatch(lines.Text()); m != nil {
				base = m[1]
				break
			}
		}
		go io.Copy(io.Discard, out)
		if base == "" {
			b.Fatal("prism-sim serve said no address")
		}
		var wg sync.WaitGroup
		took := make([]time.Duration, procs)
		logs := make([]strings.Builder, procs)
		start := time.Now()
		for p := range procs {
			wg.Go(func() {
				cmd := exec.Command(bin, append([]string{"--base-url", base, "--poll-interval", "1s", "--timeout", "2m"}, ids[p]...)...)
				cmd.Dir = b.TempDir()
				cmd.Env = []string{"PRISM_API_KEY=prism_sk_matrix"}
				cmd.Stdout, cmd.Stderr = io.Discard, &logs[p]
				if err := cmd.Run(); err != nil {
					b.Errorf("process %d: %v\n%s", p, err, logs[p].String())
				}
				took[p] = time.Since(start)
			})
		}
		wg.Wait()
		cancel()
		srv.Wait()
		for p := range procs {
			if m := refusedWith429.FindStringSubmatch(logs[p].String()); m != nil {
				n, _ := strconv.Atoi(m[1])
				refused += n
			}
		}
		slowest += slices.Max(took).Seconds() / 10
		spread += float64(slices.Max(took)) / float64(slices.Min(took))
	}
	n := float64(b.N)
	b.ReportMetric(float64(refused)/n/(procs*gens), "429s/gen")
	b.ReportMetric(slowest/n, "x-ideal-slowest")
	b.ReportMetric(spread/n, "x-slowest/fastest")
}

// BenchmarkEstimateAwareReads: a template submit whose answer estimates
// typical T = 12.7s (busy 24.1s), polled every 500ms (the ratio of T =
// 127s at poll_interval 5s), for generations that end at 0.25 T, 0.5 T,
// T, 1.5 T and past busy. It reports the reads each cost and how long
// after its end it was seen.
func BenchmarkEstimateAwareReads(b *testing.B) {
	const typical, busy, poll = 12.7, 24.1, 500 * time.Millisecond
	for _, c := range []struct {
		name string
		done float64 // seconds after the submit
	}{{"0.25T", typical / 4}, {"0.5T", typical / 2}, {"T", typical}, {"1.5T", typical * 3 / 2}, {"past-busy", busy + 1}} {
		b.Run(c.name, func(b *testing.B) {
			done := time.Duration(c.done * float64(time.Second))
			sc, err := prismsim.ParseScenario([]byte(fmt.Sprintf(`{"generations": {}, "templates": {"tpl": {"latency": {"typical": %v, "busy": %v},
				"lifecycle": {"steps": [{"status": "generating", "for": %q}, {"status": "completed"}]}}}}`, typical, busy, done.String())))
			if err != nil {
				b.Fatal(err)
			}
			var reads int
			var late time.Duration
			for b.Loop() {
				sim := serveSim(b, sc, nil)
				env := map[string]string{"PRISM_API_KEY": "prism_sk_bench"}
				start := time.Now()
				code := cli.Run(context.Background(), cli.Env{
					LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
					Args: []string{"--base-url", sim.base, "--template-id", "tpl", "--variables", "{}", "--rerun-guard", "off",
						"--poll-interval", poll.String(), "--timeout", "2m"},
					Stdout: io.Discard, Stderr: io.Discard, Wd: b.TempDir(),
				})
				if code != 0 {
					b.Fatalf("exit code %d", code)
				}
				st := sim.Stats("gen_tpl_1")
				reads += st.Requests
				late += st.Last.Sub(start) - done
			}
			n := float64(b.N)
			b.ReportMetric(float64(reads)/n, "reads/gen")
			b.ReportMetric(math.Ceil(float64(done)/float64(poll)), "reads/gen-at-cadence")
			b.ReportMetric(late.Seconds()/n, "s-seen-after-end")
			b.ReportMetric(poll.Seconds(), "s-poll-interval")
		})
	}
}

package e2e

// Benchmarks of the whole process, for the performance figures in docs/.
// They measure; they do not assert. Run them with:
//
//	go test -run=NONE -bench=. -benchtime=5x ./e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// benchSim serves one generation, gen_bench, with the given lifecycle, and
// returns the server's URL.
func benchSim(b *testing.B, lifecycle string) (*prismsim.Server, string) {
	b.Helper()
	sc, err := prismsim.ParseScenario([]byte(`{"generations": {"gen_bench": ` + lifecycle + `}}`))
	if err != nil {
		b.Fatal(err)
	}
	sim := serveSim(b, sc, nil)
	return sim.Server, strings.TrimSuffix(sim.base, "/api")
}

// runCLI runs the binary in CLI mode and returns its resource usage.
func runCLI(b *testing.B, bin, dir, base string, args ...string) (time.Time, *os.ProcessState) {
	b.Helper()
	cmd := exec.Command(bin, append([]string{"--base-url", base + "/api", "gen_bench"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PRISM_API_KEY=prism_sk_bench"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v\n%s", err, out.String())
	}
	return start, cmd.ProcessState
}

func cpu(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

func maxRSS(ps *os.ProcessState) float64 {
	return float64(ps.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB on Linux
}

// BenchmarkStartAndFinish: how soon the first request leaves after the
// process starts, and how soon the process exits after the generation
// completes (at most one poll_interval of it is the cadence itself).
func BenchmarkStartAndFinish(b *testing.B) {
	bin := build(b)
	poll := 100 * time.Millisecond
	var first, exit, overhead time.Duration
	for i := 0; i < b.N; i++ {
		sim, base := benchSim(b, `{"steps": [{"status": "generating", "for": "250ms"}, {"status": "completed"}]}`)
		start, _ := runCLI(b, bin, b.TempDir(), base, "--poll-interval", poll.String())
		exited := time.Now()
		st := sim.Stats("gen_bench")
		first += st.First.Sub(start)
		exit += exited.Sub(st.Completed)
		overhead += exited.Sub(st.Last)
	}
	fi, _ := os.Stat(bin)
	b.ReportMetric(float64(first.Microseconds())/1000/float64(b.N), "ms-to-first-request")
	b.ReportMetric(float64(exit.Microseconds())/1000/float64(b.N), "ms-completion-to-exit")
	b.ReportMetric(float64(overhead.Microseconds())/1000/float64(b.N), "ms-last-answer-to-exit")
	b.ReportMetric(float64(poll.Milliseconds()), "ms-poll-interval")
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-binary")
}

// BenchmarkPolling: CPU time per status poll, and peak memory, over a
// generation polled 200 times.
func BenchmarkPolling(b *testing.B) {
	bin := build(b)
	var cpuPerPoll time.Duration
	var rss float64
	for i := 0; i < b.N; i++ {
		sim, base := benchSim(b, `{"steps": [{"status": "generating", "times": 199}, {"status": "completed"}]}`)
		_, ps := runCLI(b, bin, b.TempDir(), base, "--poll-interval", "10ms")
		cpuPerPoll += cpu(ps) / time.Duration(sim.Stats("gen_bench").Requests)
		rss = max(rss, maxRSS(ps))
	}
	b.ReportMetric(float64(cpuPerPoll.Microseconds())/1000/float64(b.N), "ms-CPU/poll")
	b.ReportMetric(rss, "MiB-peak-RSS")
}

// BenchmarkDownload1GiB: a 1 GiB video through prism-wait against curl -o
// from the same local server, in the same run. The server sends a file
// with sendfile, so that it takes as little CPU from the two as it can.
// prism-wait's time includes the fsync it does before reporting the file;
// curl -o does none, so a second figure adds an fsync to curl's time.
func BenchmarkDownload1GiB(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl is needed for the comparison")
	}
	bin := build(b)
	const size = 1 << 30
	video := filepath.Join(b.TempDir(), "video.mp4")
	f, err := os.Create(video)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, prismsim.NewContent("gen_bench", 1, size)); err != nil {
		b.Fatal(err)
	}
	f.Close()
	syscall.Sync()
	mux := http.NewServeMux()
	mux.HandleFunc("/video.mp4", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, video) })
	var videoURL string
	mux.HandleFunc("/api/generations/gen_bench", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":"gen_bench","status":"completed","video_url":%q}`, videoURL)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	videoURL = srv.URL + "/video.mp4?X-Amz-Signature=bench"

	var ours, theirs, theirsSynced time.Duration
	var rss float64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		syscall.Sync() // neither run pays for the other's writeback
		start := time.Now()
		_, ps := runCLI(b, bin, dir, srv.URL, "--download-dir", ".")
		ours += time.Since(start)
		rss = max(rss, maxRSS(ps))
		if got, err := os.Stat(filepath.Join(dir, "gen_bench.mp4")); err != nil || got.Size() != size {
			b.Fatalf("download: %v", err)
		}
		os.Remove(filepath.Join(dir, "gen_bench.mp4"))

		syscall.Sync()
		start = time.Now()
		if out, err := exec.Command(curl, "-sSf", "-o", filepath.Join(dir, "curl.mp4"), videoURL).CombinedOutput(); err != nil {
			b.Fatalf("curl: %v %s", err, out)
		}
		theirs += time.Since(start)
		// prism-wait syncs the file before it reports it; curl -o does not.
		cf, err := os.Open(filepath.Join(dir, "curl.mp4"))
		if err != nil {
			b.Fatal(err)
		}
		cf.Sync()
		cf.Close()
		theirsSynced += time.Since(start)
		os.Remove(filepath.Join(dir, "curl.mp4"))
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "ms-prism-wait")
	b.ReportMetric(float64(theirs.Milliseconds())/float64(b.N), "ms-curl")
	b.ReportMetric(float64(theirsSynced.Milliseconds())/float64(b.N), "ms-curl+fsync")
	b.ReportMetric(float64(ours)/float64(theirs), "x-curl")
	b.ReportMetric(float64(ours)/float64(theirsSynced), "x-curl+fsync")
	b.ReportMetric(rss, "MiB-peak-RSS")
}

// BenchmarkHostileMegabytes: 100 generations that each fail with errors
// near the 1 MiB body limit, carrying the key and command syntax, as the
// action: peak RSS, the size of $GITHUB_OUTPUT and of the longest log line.
func BenchmarkHostileMegabytes(b *testing.B) {
	bin := build(b)
	huge := `"render failed ##[error]x prism_sk_bench ` + strings.Repeat("x", 300<<10) + `"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"failed","error":%s,"template_id":%s,"created_at":%s}`, huge, huge, huge)
	}))
	b.Cleanup(srv.Close)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("gen_%03d", i)
	}
	var rss, outBytes, longest float64
	var took time.Duration
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		cmd := exec.Command(bin)
		cmd.Dir = dir
		cmd.Env = []string{"GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=" + dir, "GITHUB_OUTPUT=" + filepath.Join(dir, "out"),
			"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary"), "INPUT_API_KEY=prism_sk_bench",
			"INPUT_BASE_URL=" + srv.URL + "/api", "INPUT_GENERATION_ID=" + strings.Join(ids, " "), "INPUT_TIMEOUT=1m"}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); cmd.ProcessState.ExitCode() != 1 {
			b.Fatalf("exit %v, want 1\n%.2000s", err, out.String())
		}
		took += time.Since(start)
		rss = max(rss, maxRSS(cmd.ProcessState))
		fi, _ := os.Stat(filepath.Join(dir, "out"))
		outBytes = max(outBytes, float64(fi.Size()))
		for _, line := range strings.Split(out.String(), "\n") {
			longest = max(longest, float64(len(line)))
		}
	}
	b.ReportMetric(rss, "MiB-peak-RSS")
	b.ReportMetric(outBytes/1024, "KiB-GITHUB_OUTPUT")
	b.ReportMetric(longest/1024, "KiB-longest-log-line")
	b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms-run")
}

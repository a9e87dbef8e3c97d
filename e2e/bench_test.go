package e2e

// Benchmarks of the whole process, for the figures in docs/performance.md.
// They measure; they do not assert. Run them with:
//
//	go test -run=NONE -bench=. -benchtime=5x ./e2e

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/media"
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
// prism-wait's time includes the fsync it does before reporting the file
// and the container check (the video is a real MP4); curl -o does
// neither, so a second figure adds an fsync to curl's time. The check's
// own cost is measured apart, on the saved file: ms-verify, and its
// share of prism-wait's time, %-verify.
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

	var ours, theirs, theirsSynced, verify time.Duration
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
		verify += timeVerify(b, filepath.Join(dir, "gen_bench.mp4"))
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
	b.ReportMetric(float64(verify.Microseconds())/1000/float64(b.N), "ms-verify")
	b.ReportMetric(100*float64(verify)/float64(ours), "%-verify")
}

// timeVerify times the check the download does on a finished file: its
// first bytes read back, then its container's headers.
func timeVerify(b *testing.B, name string) time.Duration {
	b.Helper()
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	start := time.Now()
	head := make([]byte, media.SniffLen)
	n, _ := f.ReadAt(head, 0)
	kind, _ := media.Sniff(head[:n])
	if _, err := media.Verify(f, fi.Size(), kind); err != nil {
		b.Fatalf("the saved video fails its check: %v", err)
	}
	return time.Since(start)
}

// BenchmarkHostileMegabytes: 100 generations answered at once with
// "failed" bodies near the 1 MiB body limit, as the action: long strings
// carrying the key and command syntax, many fields, a huge number, deep
// nesting. Peak RSS of the process (its rusage), the size of
// $GITHUB_OUTPUT and of the longest log line.
func BenchmarkHostileMegabytes(b *testing.B) {
	for _, tc := range hostileBodies() {
		b.Run(tc.name, func(b *testing.B) { hostileMegabytes(b, tc.body) })
	}
}

// hostileBodies are "failed" status bodies near the 1 MiB body limit, each
// hostile in its own way.
func hostileBodies() []struct{ name, body string } {
	const size = 1000 << 10 // under the 1 MiB limit
	huge := `"render failed ##[error]x prism_sk_bench ` + strings.Repeat("x", size/3-64) + `"`
	deep := strings.Repeat("[", 4000) + strings.Repeat("]", 4000)
	return []struct{ name, body string }{
		{"strings", `{"status":"failed","error":` + huge + `,"template_id":` + huge + `,"created_at":` + huge + `}`},
		{"fields", `{"status":"failed","error":"x"` + strings.Repeat(`,"f":"##[error]x"`, size/17) + `}`},
		{"number", `{"status":"failed","error":"x","n":1` + strings.Repeat("9", size) + `}`},
		{"depth", `{"status":"failed","error":"x","d":[` + strings.Repeat(deep+",", size/len(deep)-1) + deep + `]}`},
	}
}

func hostileMegabytes(b *testing.B, body string) {
	base := hostileServer(b, body)
	var rss, outBytes, longest float64
	var took time.Duration
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		start := time.Now()
		peak, out := hostileRun(b, base, dir)
		took += time.Since(start)
		rss = max(rss, peak)
		fi, _ := os.Stat(filepath.Join(dir, "out"))
		outBytes = max(outBytes, float64(fi.Size()))
		for _, line := range strings.Split(out, "\n") {
			longest = max(longest, float64(len(line)))
		}
	}
	b.ReportMetric(rss, "MiB-peak-RSS")
	b.ReportMetric(outBytes/1024, "KiB-GITHUB_OUTPUT")
	b.ReportMetric(longest/1024, "KiB-longest-log-line")
	b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms-run")
}

// hostileServer answers every status read with body; it returns the base URL.
func hostileServer(tb testing.TB, body string) string {
	tb.Helper()
	if len(body) >= 1<<20 {
		tb.Fatalf("the body is %d bytes, over the limit", len(body))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL + "/api"
}

// hostileRun runs the action for 100 IDs, all read at once, against base
// in dir, and expects exit code 1 (every generation failed). It returns
// the process's peak RSS in MiB and what it printed.
func hostileRun(tb testing.TB, base, dir string) (float64, string) {
	tb.Helper()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("gen_%03d", i)
	}
	cmd := exec.Command(build(tb))
	cmd.Dir = dir
	cmd.Env = []string{"GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=" + dir, "GITHUB_OUTPUT=" + filepath.Join(dir, "out"),
		"GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary"), "INPUT_API_KEY=prism_sk_bench",
		"INPUT_BASE_URL=" + base, "INPUT_GENERATION_ID=" + strings.Join(ids, " "), "INPUT_TIMEOUT=1m"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	peak, err := runPeakRSS(cmd)
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		tb.Fatalf("exit %v, want 1\n%.2000s", err, out.String())
	}
	return peak, out.String()
}

// runPeakRSS runs cmd to its end and returns its peak resident memory in
// MiB: the high-water mark (VmHWM) of its own memory, read from /proc
// while it runs; it only grows, so any read after the peak finds it. Not
// the rusage's Maxrss: os/exec starts a child with vfork, and Linux
// counts the parent's own peak in the child's Maxrss at exec, so a large
// test process would show as the child's peak.
func runPeakRSS(cmd *exec.Cmd) (float64, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var peak float64
	for {
		peak = max(peak, vmHWM(cmd.Process.Pid))
		select {
		case err := <-done:
			return peak, err
		case <-tick.C:
		}
	}
}

// vmHWM is a live process's peak resident memory in MiB; 0 once it has
// ended.
func vmHWM(pid int) float64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkPollingHTTPS: 100 IDs polled over HTTPS, each read 10 times
// before it completes, against a TLS test server speaking HTTP/1.1 (where
// each request in flight needs a connection of its own) and HTTP/2 (one
// connection for all): CPU time per poll, and the TLS connections opened.
func BenchmarkPollingHTTPS(b *testing.B) {
	for _, h2 := range []bool{false, true} {
		b.Run(map[bool]string{false: "http1.1", true: "h2"}[h2], func(b *testing.B) { pollingHTTPS(b, h2) })
	}
}

func pollingHTTPS(b *testing.B, h2 bool) {
	bin := build(b)
	const reads = 10
	var cpuPerPoll time.Duration
	var conns, requests float64
	for i := 0; i < b.N; i++ {
		var mu sync.Mutex
		seen := map[string]int{}
		var opened atomic.Int64
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := strings.TrimPrefix(r.URL.Path, "/api/generations/")
			mu.Lock()
			seen[id]++
			n := seen[id]
			mu.Unlock()
			if n < reads {
				fmt.Fprintf(w, `{"id":%q,"status":"generating"}`, id)
				return
			}
			fmt.Fprintf(w, `{"id":%q,"status":"completed","video_url":"https://127.0.0.1/videos/%s.mp4"}`, id, id)
		}))
		srv.EnableHTTP2 = h2
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				opened.Add(1)
			}
		}
		srv.StartTLS()
		dir := b.TempDir()
		ca := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
			b.Fatal(err)
		}
		ids := make([]string, 100)
		for i := range ids {
			ids[i] = fmt.Sprintf("gen_%03d", i)
		}
		cmd := exec.Command(bin, append([]string{"--base-url", srv.URL + "/api", "--poll-interval", "200ms"}, ids...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PRISM_API_KEY=prism_sk_bench", "SSL_CERT_FILE=" + ca}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v\n%s", err, out.String())
		}
		srv.Close()
		mu.Lock()
		n := 0
		for _, v := range seen {
			n += v
		}
		mu.Unlock()
		cpuPerPoll += cpu(cmd.ProcessState) / time.Duration(n)
		conns += float64(opened.Load())
		requests += float64(n)
	}
	b.ReportMetric(float64(cpuPerPoll.Microseconds())/1000/float64(b.N), "ms-CPU/poll")
	b.ReportMetric(conns/float64(b.N), "TLS-connections")
	b.ReportMetric(requests/float64(b.N), "requests")
}

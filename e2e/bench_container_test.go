package e2e

// Figures of the action in a real container, as the runner starts it.
// They measure; they do not assert. scripts/container-test runs them;
// by hand, with the image built:
//
//	PRISM_WAIT_IMAGE=prism-wait:container-test go test -run=NONE -bench=DockerRun -benchtime=5x ./e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// BenchmarkDockerRun: from `docker run` to the first status request; from
// the answer "completed" to PID 1's exit and to `docker run`'s return
// (poll_interval 100 ms, so up to 100 ms of it is the cadence itself; the
// rest of the second is the engine removing the container); the binary's
// peak RSS as PID 1; and the image's size.
func BenchmarkDockerRun(b *testing.B) {
	e := needImage(b)
	poll := 100 * time.Millisecond
	var first, pid1Exit, exit, overhead time.Duration
	var peakKiB int64
	for i := 0; i < b.N; i++ {
		sc, err := prismsim.ParseScenario([]byte(`{"generations": {"gen_bench": {"steps": [{"status": "generating", "for": "1s"}, {"status": "completed"}]}}}`))
		if err != nil {
			b.Fatal(err)
		}
		s := prismsim.New(sc)
		b.Cleanup(s.Close)
		base := listenGateway(b, e, s) + "/api"
		c := newDockerContainer(b, e)
		// rerun_guard off: the guard's cache lookups are not what is measured.
		start := time.Now()
		p := c.start(b, c.env(b, map[string]string{"generation_id": "gen_bench", "api_key": "prism_sk_bench", "base_url": base, "poll_interval": poll.String(), "rerun_guard": "off"}))
		// The peak RSS of PID 1, read from the host once it is polling (so
		// that docker inspect does not compete with the start).
		peak := make(chan pid1, 1)
		go func() {
			for s.Stats("gen_bench").Requests == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			peak <- watchPeakRSS(e.docker, containerName(c))
		}()
		if r := p.wait(b); r.code != 0 {
			b.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		exited := time.Now()
		st := s.Stats("gen_bench")
		first += st.First.Sub(start)
		exit += exited.Sub(st.Completed)
		overhead += exited.Sub(st.Last)
		seen := <-peak
		peakKiB = max(peakKiB, seen.peakKiB)
		pid1Exit += seen.gone.Sub(st.Completed)
	}
	raw, err := exec.Command(e.docker, "image", "inspect", "--format", "{{json .Size}}", e.image).Output()
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	json.Unmarshal(raw, &size)
	b.ReportMetric(float64(first.Microseconds())/1000/float64(b.N), "ms-docker-run-to-first-request")
	b.ReportMetric(float64(pid1Exit.Microseconds())/1000/float64(b.N), "ms-completion-to-pid1-exit")
	b.ReportMetric(float64(exit.Microseconds())/1000/float64(b.N), "ms-completion-to-docker-run-exit")
	b.ReportMetric(float64(overhead.Microseconds())/1000/float64(b.N), "ms-last-answer-to-docker-run-exit")
	b.ReportMetric(float64(peakKiB)/1024, "MiB-peak-RSS")
	b.ReportMetric(float64(size)/(1<<20), "MiB-image")
}

// pid1 is what the host saw of a container's PID 1.
type pid1 struct {
	peakKiB int64     // high-water RSS (VmHWM), as last read
	gone    time.Time // when its /proc entry went away
}

// watchPeakRSS follows the container's PID 1 from the host until it exits.
func watchPeakRSS(docker, name string) pid1 {
	out, err := exec.Command(docker, "inspect", "--format", "{{.State.Pid}}", name).Output()
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid == 0 {
		return pid1{gone: time.Now()}
	}
	var peak int64
	for {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return pid1{peakKiB: peak, gone: time.Now()}
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				peak = max(peak, kib)
			}
		}
		f.Close()
		time.Sleep(2 * time.Millisecond)
	}
}

package e2e

// The action, run by the harness as the runner runs it, against the
// simulator's scripted lifecycles: exit codes, outputs, log, summary,
// masking, downloads and cancellation.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/cli"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/report"
)

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func TestActionReportsEachLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	// Each case gets its own simulator (below): lifecycles are stateful.
	for _, tc := range []struct {
		name   string
		with   map[string]string
		code   int
		checks []check
	}{
		{"completed", fast(map[string]string{"generation_id": "gen_ok"}), 0, []check{
			outputsAre(map[string]string{"status": "completed", "template_id": "tpl_e2e", "share_url": "https://prismvideos.com/share/gen_ok",
				"error": "", "video_path": "", "video_sha256": ""}),
			func(t *testing.T, c *container, r run, sim simulator) {
				if !strings.HasPrefix(r.outputs["video_url"], strings.TrimSuffix(sim.base, "/api")+"/videos/gen_ok.mp4?") ||
					!strings.Contains(r.outputs["video_url"], "X-Amz-Signature=") {
					t.Errorf("video_url %q", r.outputs["video_url"])
				}
				if !rfc3339.MatchString(r.outputs["created_at"]) || !rfc3339.MatchString(r.outputs["completed_at"]) {
					t.Errorf("times %q %q", r.outputs["created_at"], r.outputs["completed_at"])
				}
				var results []map[string]any
				if err := json.Unmarshal([]byte(r.outputs["results"]), &results); err != nil || len(results) != 1 {
					t.Fatalf("results %q: %v", r.outputs["results"], err)
				}
				if results[0]["id"] != "gen_ok" || results[0]["video_url"] != r.outputs["video_url"] || results[0]["video_url_expires_at"] == nil {
					t.Errorf("results %v", results)
				}
				if strings.Contains(r.stdout+r.summary, "X-Amz-Signature") {
					t.Error("the URL's signature reached the log or the summary")
				}
				if ua := sim.Stats("gen_ok").UserAgent; ua != "prism-wait/v0.0.0-e2e" {
					t.Errorf("User-Agent %q, want the stamped version", ua)
				}
				if !strings.Contains(r.summary, "| `gen_ok` | completed |") {
					t.Errorf("summary:\n%s", r.summary)
				}
			},
			logSays("gen_ok: generating", "gen_ok: completed", "; exit code 0"),
		}},
		{"failed", fast(map[string]string{"generation_id": "gen_failed"}), 1, []check{
			outputsAre(map[string]string{"status": "failed", "error": "Generation timed out", "video_url": "", "completed_at": ""}),
			logSays("::error title=Generation failed::gen_failed failed: Generation timed out"),
		}},
		{"transient faults", fast(map[string]string{"generation_id": "gen_flaky"}), 0, []check{
			outputsAre(map[string]string{"status": "completed"}),
			logSays("::warning title=Prism API trouble::gen_flaky: HTTP 503", "HTTP 429", "invalid response body", `"queued" is not a status`),
		}},
		{"deadline", fast(map[string]string{"generation_id": "gen_slow", "timeout": "5s"}), 3, []check{
			outputsAre(map[string]string{"status": "generating", "video_url": ""}),
			logSays("::error title=No verdict in time::gen_slow: timeout reached while the generation was \"generating\". Raise timeout (now 5s)"),
		}},
		{"completed without video", fast(map[string]string{"generation_id": "gen_no_video", "timeout": "5s"}), 3, []check{
			outputsAre(map[string]string{"status": "completed_without_video", "video_url": ""}),
			logSays("the API reports completed but gives no usable video_url"),
		}},
		{"hung server", fast(map[string]string{"generation_id": "gen_hang", "timeout": "400ms"}), 3, []check{
			func(t *testing.T, c *container, r run, sim simulator) {
				if r.took > 10*time.Second {
					t.Errorf("a hung server stretched a 400ms timeout to %s", r.took)
				}
			},
		}},
		// net/http hands back the connection of a 101 as its body, which
		// no deadline closes.
		{"101 Switching Protocols", fast(map[string]string{"generation_id": "gen_switch", "timeout": "3s"}), 3, []check{
			outputsAre(map[string]string{"status": ""}),
			logSays("::error title=No verdict in time::gen_switch: timeout reached", "informational status"),
		}},
		{"bad inputs", fast(map[string]string{"generation_id": "gen_ok ../../admin", "timeout": "soon", "download_dir": "../../etc"}), 2, []check{
			logSays("::error title=Invalid input::generation_id:", "::error title=Invalid input::timeout:", "::error title=Invalid input::download_dir:"),
			outputsAre(map[string]string{"status": "", "results": "[]"}),
		}},
		{"missing api key", fast(map[string]string{"generation_id": "gen_ok", "api_key": ""}), 2, []check{
			logSays("api_key: required"),
		}},
		{"revoked key", fast(map[string]string{"generation_id": "gen_ok", "api_key": prismsim.KeyRevoked}), 4, []check{
			logSays("::error title=Prism API refused the request::Prism refused the API key"),
		}},
		{"key without scope", fast(map[string]string{"generation_id": "gen_ok", "api_key": prismsim.KeyNoScope}), 4, []check{
			logSays("templates:read"),
		}},
		{"unknown id", fast(map[string]string{"generation_id": "gen_does_not_exist"}), 4, []check{
			logSays("Generation gen_does_not_exist was not found"),
		}},
		{"several ids", fast(map[string]string{"generation_id": "gen_ok\ngen_failed, gen_flaky gen_ok"}), 1, []check{
			outputsAre(map[string]string{"status": "failed", "error": "\nGeneration timed out\n", "template_id": "tpl_e2e\n\n"}),
			func(t *testing.T, c *container, r run, sim simulator) {
				urls := strings.Split(r.outputs["video_url"], "\n")
				if len(urls) != 3 || !strings.Contains(urls[0], "gen_ok") || urls[1] != "" || !strings.Contains(urls[2], "gen_flaky") {
					t.Errorf("video_url lines %q", urls)
				}
			},
		}},
		{"injection from the API", fast(map[string]string{"generation_id": "gen_injection"}), 1, []check{
			func(t *testing.T, c *container, r run, sim simulator) {
				if len(r.outputs) != len(readActionYML(t).Outputs) || r.outputs["status"] != "failed" {
					t.Errorf("outputs were injected: %q", r.outputs)
				}
				for _, line := range strings.Split(r.stdout, "\n") {
					if strings.HasPrefix(line, "::set-output") || strings.HasPrefix(line, "status<<") {
						t.Errorf("a workflow command was injected: %q", line)
					}
				}
			},
		}},
		{"download", fast(map[string]string{"generation_id": "gen_ok gen_flaky", "download_dir": "out/videos"}), 0, []check{
			outputsAre(map[string]string{"video_path": "out/videos/gen_ok.mp4\nout/videos/gen_flaky.mp4",
				"video_duration": "8\n8", "video_width": "1920\n1280", "video_height": "1080\n720"}),
			func(t *testing.T, c *container, r run, sim simulator) {
				for i, id := range []string{"gen_ok", "gen_flaky"} {
					p := filepath.Join(c.workspace, "out", "videos", id+".mp4")
					fi, err := os.Stat(p)
					if err != nil {
						t.Fatal(err)
					}
					if want := strings.Split(r.outputs["video_sha256"], "\n")[i]; sha256File(t, p) != want {
						t.Errorf("%s: sha256 differs from the output", id)
					}
					if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 1001 || st.Gid != 1002) {
						t.Errorf("%s is owned by %d:%d, want the workspace's 1001:1002", p, st.Uid, st.Gid)
					}
				}
				if sim.Stats("gen_ok").VideoAuthz+sim.Stats("gen_flaky").VideoAuthz != 0 {
					t.Error("the API key reached the storage host")
				}
				entries, _ := os.ReadDir(filepath.Join(c.workspace, "out", "videos"))
				if len(entries) != 2 {
					t.Errorf("the directory holds %d entries, want the 2 videos", len(entries))
				}
			},
		}},
		{"storage that sends no whole video", fast(map[string]string{"generation_id": "gen_dl_html gen_dl_cut gen_dl_png gen_dl_webm", "download_dir": "videos"}), 5, []check{
			logSays("::error title=Download failed::download of gen_dl_html failed after 1 attempt(s) at 0 of 74 bytes: storage answered HTTP 200 with Content-Type text/html, not a video",
				"::error title=Download failed::download of gen_dl_cut failed after 1 attempt(s) at 300000 bytes: the file is not a whole ISO base media (MP4) video: top-level boxes end at 300000 bytes of 1048576",
				"::error title=Download failed::download of gen_dl_png failed after 1 attempt(s) at 252 of 252 bytes: storage sent a PNG image, not a video. Nothing was saved.",
				"gen_dl_webm: verified videos/gen_dl_webm.webm: WEBM, vp09, 640x360, 2.5s"),
			outputsAre(map[string]string{"video_path": "\n\n\nvideos/gen_dl_webm.webm", "video_duration": "\n\n\n2.5", "video_width": "\n\n\n640", "video_height": "\n\n\n360"}),
			func(t *testing.T, c *container, r run, sim simulator) {
				entries, _ := os.ReadDir(filepath.Join(c.workspace, "videos"))
				if len(entries) != 1 || entries[0].Name() != "gen_dl_webm.webm" {
					t.Errorf("the directory holds %v, want only the WebM", entries)
				}
			},
		}},
		{"download failure", fast(map[string]string{"generation_id": "gen_dl_missing", "download_dir": "videos"}), 5, []check{
			logSays("::error title=Download failed::download of gen_dl_missing failed after 1 attempt(s)"),
			func(t *testing.T, c *container, r run, sim simulator) {
				if entries, _ := os.ReadDir(filepath.Join(c.workspace, "videos")); len(entries) != 0 {
					t.Errorf("left %d entries behind", len(entries))
				}
			},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, e2eScenarios)
			tc.with["base_url"] = sim.base
			c := newContainer(t)
			if os.Geteuid() == 0 {
				os.Chown(c.workspace, 1001, 1002) // like a runner's workspace
			}
			r := c.act(t, tc.with)
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr: %s", r.stderr)
			}
			if strings.Count(r.stdout, tc.with["api_key"]) > 1 && tc.with["api_key"] != "" || !strings.HasPrefix(r.stdout, "::add-mask::") && tc.with["api_key"] != "" {
				t.Errorf("the key must be masked first and never shown again:\n%s", r.stdout)
			}
			declared := readActionYML(t).Outputs
			for name := range declared {
				if _, ok := r.outputs[name]; !ok {
					t.Errorf("output %s not written", name)
				}
			}
			if tc.code != 2 {
				var results []struct{ ID, Status string }
				json.Unmarshal([]byte(r.outputs["results"]), &results)
				for _, res := range results {
					if row := fmt.Sprintf("| `%s` | %s |", res.ID, strings.ReplaceAll(res.Status, "_", "\\_")); !strings.Contains(r.summary, row) {
						t.Errorf("summary lacks %q:\n%s", row, r.summary)
					}
				}
				if len(results) == 0 || strings.Contains(r.summary, "X-Amz") {
					t.Errorf("summary:\n%s", r.summary)
				}
			} else if r.summary != "" {
				t.Errorf("a summary for invalid input:\n%s", r.summary)
			}
			for _, ch := range tc.checks {
				ch(t, c, r, sim)
			}
		})
	}
}

func TestSignalCancelsTheRunCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, e2eScenarios)
			c := newContainer(t)
			// One generation generating, one hanging the API, one half downloaded.
			p := c.start(t, c.env(t, map[string]string{"generation_id": "gen_slow gen_hang gen_dl_stall", "api_key": e2eKey, "base_url": sim.base, "download_dir": "videos"}))
			for i := 0; sim.Stats("gen_slow").Requests == 0 || sim.Stats("gen_hang").Requests == 0 || !partial(c); i++ {
				if i > 6000 {
					p.signal(syscall.SIGKILL)
					t.Fatal("not every request under way within 30s")
				}
				time.Sleep(5 * time.Millisecond)
			}
			sent := time.Now()
			if err := p.signal(sig); err != nil {
				t.Fatal(err)
			}
			guard := time.AfterFunc(5*time.Second, func() { p.signal(syscall.SIGKILL) }) // never hang the suite
			defer guard.Stop()
			r := p.wait(t)
			took := time.Since(sent)
			if r.code != 3 || took > 5*time.Second {
				t.Errorf("exit %d after %s, want 3 within a second\n%s", r.code, took, r.stdout)
			}
			if r.outputs["status"] != "generating" || !strings.Contains(r.summary, "the job was cancelled") || !strings.Contains(r.stdout, "::error title=Cancelled::") {
				t.Errorf("outputs %q\nsummary %s\nlog %s", r.outputs, r.summary, r.stdout)
			}
			if entries, _ := os.ReadDir(filepath.Join(c.workspace, "videos")); len(entries) != 0 {
				t.Errorf("the cancelled download left %d entries behind", len(entries))
			}
		})
	}
}

// partial reports whether a download has written part of a video.
func partial(c *container) bool {
	entries, _ := os.ReadDir(filepath.Join(c.workspace, "videos"))
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".part") && fi.Size() > 0 {
			return true
		}
	}
	return false
}

// TestActionYMLDeclaresWhatTheCodeReadsAndWrites checks that every input
// the code reads and every output it writes is declared in action.yml, and
// the reverse.
func TestActionYMLDeclaresWhatTheCodeReadsAndWrites(t *testing.T) {
	t.Parallel()
	a := readActionYML(t)
	if a.Runs.Using != "docker" || a.Runs.Image == "" {
		t.Errorf("runs: %+v", a.Runs)
	}
	for name := range a.Inputs {
		if name != strings.ToLower(name) || strings.ContainsAny(name, " -") {
			t.Errorf("input %q is not snake_case", name)
		}
	}
	sim := startSim(t, e2eScenarios)
	ws := t.TempDir()
	runWith := func(inputs map[string]string) (read []string, outputs map[string]string) {
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws, "GITHUB_OUTPUT": filepath.Join(t.TempDir(), "out")}
		for k, v := range inputs {
			env["INPUT_"+strings.ToUpper(k)] = v
		}
		var mu sync.Mutex
		var buf bytes.Buffer
		code := cli.Run(context.Background(), cli.Env{
			LookupEnv: func(k string) (string, bool) {
				mu.Lock()
				defer mu.Unlock()
				if strings.HasPrefix(k, "INPUT_") && !slices.Contains(read, k) {
					read = append(read, k)
				}
				v, ok := env[k]
				return v, ok
			},
			Stdout: &buf, Stderr: &buf, Wd: ws,
		})
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, buf.String())
		}
		raw, _ := os.ReadFile(env["GITHUB_OUTPUT"])
		outputs, _ = report.ParseOutputs(string(raw))
		return read, outputs
	}

	read, outputs := runWith(map[string]string{"generation_id": "gen_ok", "api_key": e2eKey, "base_url": sim.base, "poll_interval": "10ms", "download_dir": "v"})
	var declared []string
	for name := range a.Inputs {
		declared = append(declared, "INPUT_"+strings.ToUpper(name))
	}
	slices.Sort(declared)
	slices.Sort(read)
	if !slices.Equal(read, declared) {
		t.Errorf("the code reads %v; action.yml declares %v", read, declared)
	}
	var written, outDeclared []string
	for name := range outputs {
		written = append(written, name)
	}
	for name, o := range a.Outputs {
		outDeclared = append(outDeclared, name)
		if strings.TrimSpace(o.Description) == "" {
			t.Errorf("output %s has no description", name)
		}
	}
	slices.Sort(written)
	slices.Sort(outDeclared)
	if !slices.Equal(written, outDeclared) {
		t.Errorf("the code writes %v; action.yml declares %v", written, outDeclared)
	}

}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/cli"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/report"
)

// demoIDs complete, fail, and complete after riding out transient faults
// (503, 429 with Retry-After, a cut connection, a garbage body, a cut
// download and an expired video URL).
var demoIDs = []string{"gen_demo_ok", "gen_demo_failed", "gen_demo_flaky"}

// demoTemplate is submitted in the demo's second step.
const demoTemplate = "tpl_demo"

// demo runs the real action code against the simulator, as GitHub Actions
// would run it, in two steps: waiting for given generations, then
// submitting a template and waiting for its videos. It checks that every
// generation ended as its scenario says.
func demo(ctx context.Context, stdout, stderr io.Writer) int {
	scenario := prismsim.Default()
	sim := prismsim.New(scenario)
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: sim}
	go srv.Serve(ln)
	defer srv.Close()

	tmp, err := os.MkdirTemp("", "prism-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	base := fmt.Sprintf("http://%s/api", ln.Addr())
	// action runs the action's code as GitHub Actions would run one step,
	// with these inputs, and returns its exit code and outputs.
	action := func(step string, inputs map[string]string) (int, map[string]string, bool) {
		dir := filepath.Join(tmp, step)
		env := map[string]string{
			"GITHUB_ACTIONS":      "true",
			"GITHUB_WORKSPACE":    tmp,
			"GITHUB_OUTPUT":       dir + ".output",
			"GITHUB_STEP_SUMMARY": dir + ".summary.md",
			"INPUT_API_KEY":       "prism_sk_demo",
			"INPUT_BASE_URL":      base,
			"INPUT_POLL_INTERVAL": "500ms",
			"INPUT_MAX_INTERVAL":  "2s",
			"INPUT_TIMEOUT":       "45s",
			"INPUT_DOWNLOAD_DIR":  "videos",
		}
		for k, v := range inputs {
			env["INPUT_"+strings.ToUpper(k)] = v
		}
		code := cli.Run(ctx, cli.Env{
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			Stdout:    stdout, Stderr: stderr, Wd: tmp,
		})
		raw, _ := os.ReadFile(env["GITHUB_OUTPUT"])
		outputs, err := report.ParseOutputs(string(raw))
		if err != nil {
			fmt.Fprintf(stderr, "demo: cannot read the step outputs: %v\n", err)
			return code, nil, false
		}
		fmt.Fprintf(stdout, "\n== the step outputs (exit code %d) ==\n", code)
		// Every output: the telling ones first, then the rest by name.
		names := []string{"status", "generation_id", "credits_charged", "video_url", "video_path", "video_sha256", "video_duration", "video_width", "video_height", "completed_at", "error"}
		for _, name := range slices.Sorted(maps.Keys(outputs)) {
			if !slices.Contains(names, name) && name != "results" {
				names = append(names, name)
			}
		}
		for _, name := range append(names, "results") {
			fmt.Fprintf(stdout, "%s:\n", name)
			for _, line := range strings.Split(outputs[name], "\n") {
				fmt.Fprintf(stdout, "  %s\n", line)
			}
		}
		summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
		fmt.Fprintf(stdout, "\n== the step summary ==\n%s\n", summary)
		return code, outputs, true
	}

	fmt.Fprintf(stdout, "== 1. waiting for given generations, against the simulator at %s ==\n== the GitHub log ==\n", base)
	code, outputs, ok := action("wait", map[string]string{"generation_id": strings.Join(demoIDs, "\n")})
	if !ok {
		return 1
	}
	problems := check(scenario, demoIDs, outputs["results"], tmp, code)

	fmt.Fprintf(stdout, "\n== 2. submitting template %s, then waiting for its videos ==\n== the GitHub log ==\n", demoTemplate)
	// rerun_guard off: a demo has no run to re-run, nor an Actions cache
	// for the guard, which would only warn that it cannot work here.
	code, outputs, ok = action("submit", map[string]string{"template_id": demoTemplate, "variables": `{"title": "Launch day"}`, "rerun_guard": "off"})
	if !ok {
		return 1
	}
	submitted := strings.Split(outputs["generation_id"], "\n")
	if want := scenario.Templates[demoTemplate].Videos; len(submitted) != want || sim.Submits(prismsim.TemplatePath(demoTemplate)).Posts != 1 {
		problems = append(problems, fmt.Sprintf("submit: want %d generations from exactly one POST, got %q", want, submitted))
	}
	problems = append(problems, check(scenario, submitted, outputs["results"], tmp, code)...)

	if len(problems) > 0 {
		fmt.Fprintf(stdout, "demo: FAILED, not as the scenarios predict:\n  %s\n", strings.Join(problems, "\n  "))
		return 1
	}
	fmt.Fprintln(stdout, "demo: every generation behaved as its scenario predicts (the failure included), and the template was submitted once: OK")
	return 0
}

// check compares the results with what each scenario's last step says:
// the generation's own, or its template's lifecycle.
func check(scenario prismsim.Scenario, ids []string, results, workspace string, code int) []string {
	var got []struct {
		ID          string   `json:"id"`
		Status      *string  `json:"status"`
		VideoPath   *string  `json:"video_path"`
		VideoSHA256 *string  `json:"video_sha256"`
		VideoBytes  *int64   `json:"video_bytes"`
		Width       *int     `json:"video_width"`
		Height      *int     `json:"video_height"`
		Seconds     *float64 `json:"video_duration_s"`
	}
	if err := json.Unmarshal([]byte(results), &got); err != nil {
		return []string{fmt.Sprintf("results output is not JSON: %v", err)}
	}
	var problems []string
	wantCode := outcome.ExitOK
	for i, id := range ids {
		lc, ok := scenario.Generations[id]
		if !ok {
			lc = scenario.Templates[demoTemplate].Lifecycle
		}
		want := lc.Steps[len(lc.Steps)-1].Status
		if want == "failed" {
			wantCode = outcome.ExitFailed
		}
		if i >= len(got) || got[i].ID != id || got[i].Status == nil || *got[i].Status != want {
			problems = append(problems, fmt.Sprintf("%s: want status %q in results[%d]", id, want, i))
			continue
		}
		if want != "completed" {
			continue
		}
		if got[i].VideoPath == nil || got[i].VideoSHA256 == nil {
			problems = append(problems, fmt.Sprintf("%s: not downloaded", id))
			continue
		}
		content := lc.Video.Content(id, 1)
		h := sha256.New()
		io.Copy(h, content)
		file, err := os.ReadFile(filepath.Join(workspace, *got[i].VideoPath))
		fileSum := sha256.Sum256(file)
		if want := hex.EncodeToString(h.Sum(nil)); err != nil || *got[i].VideoSHA256 != want || hex.EncodeToString(fileSum[:]) != want {
			problems = append(problems, fmt.Sprintf("%s: the saved video is not the one served", id))
		}
		// The container was verified: its facts are the scenario's.
		w, h2, d := cmp.Or(lc.Video.Width, prismsim.DefaultWidth), cmp.Or(lc.Video.Height, prismsim.DefaultHeight), cmp.Or(time.Duration(lc.Video.Duration), prismsim.DefaultDuration)
		if got[i].Width == nil || *got[i].Width != w || got[i].Height == nil || *got[i].Height != h2 || got[i].Seconds == nil || *got[i].Seconds != d.Seconds() {
			problems = append(problems, fmt.Sprintf("%s: want a verified %dx%d video of %s in results[%d]", id, w, h2, d, i))
		}
	}
	if code != wantCode {
		problems = append(problems, fmt.Sprintf("exit code %d, want %d", code, wantCode))
	}
	return problems
}

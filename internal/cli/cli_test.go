package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/report"
	"github.com/prism-wait/prism-wait/internal/testnet"
	"github.com/prism-wait/prism-wait/internal/wait"
)

const key = "prism_sk_cli_test_key"

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// apiBase is where the simulator seems to be: the in-memory transport
// reaches it whatever the host, and storage's URLs point back at it.
const apiBase = "http://127.0.0.1/api"

// api is a simulator as the command reaches it.
type api struct {
	URL       string
	Transport http.RoundTripper
}

// sim plays the scenario js over an in-memory transport. Call it in a
// bubble: the simulator, the command and their deadlines share its clock.
func sim(t *testing.T, js string) (*prismsim.Server, api) {
	t.Helper()
	sc, err := prismsim.ParseScenario([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	s := prismsim.New(sc)
	tr := testnet.Serve(t, s)
	t.Cleanup(s.Close) // before the server: hanging requests let go
	return s, api{URL: apiBase, Transport: tr}
}

const scenario = `{"generations": {
	"gen_ok":   {"steps": [{"status": "generating", "times": 2}, {"status": "completed"}], "video": {"bytes": 5000}},
	"gen_fail": {"steps": [{"status": "generating"}, {"status": "failed", "error": "Generation timed out"}]},
	"gen_slow": {"steps": [{"status": "generating"}]},
	"gen_hang": {"steps": [{"fault": "hang"}]}
}}`

type result struct {
	code           int
	stdout, stderr string
	outputs        map[string]string
	summary        string
	took           time.Duration
	workspace      string
}

// action runs the command as the runner would, with inputs over defaults.
func action(t *testing.T, ctx context.Context, base api, inputs map[string]string) result {
	t.Helper()
	ws := t.TempDir()
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws,
		"GITHUB_OUTPUT": filepath.Join(ws, "..", "output"), "GITHUB_STEP_SUMMARY": filepath.Join(ws, "..", "summary"),
		"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_POLL_INTERVAL": "10ms", "INPUT_MAX_INTERVAL": "40ms",
		"INPUT_TIMEOUT": "", "INPUT_DOWNLOAD_DIR": "", "INPUT_GENERATION_ID": "",
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := Run(ctx, Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stderr, Wd: "/nonexistent", Version: "v0-test", Transport: base.Transport})
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start), workspace: ws}
	raw, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	var err error
	if r.outputs, err = report.ParseOutputs(string(raw)); err != nil {
		t.Fatal(err)
	}
	sum, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	r.summary = string(sum)
	k := env["INPUT_API_KEY"]
	if strings.Count(r.stdout+r.stderr+r.summary, k) != 1 || !strings.HasPrefix(r.stdout, "::add-mask::"+k+"\n") {
		t.Errorf("the key must be masked first and never shown again:\n%s%s", r.stdout, r.stderr)
	}
	return r
}

func TestAction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		inputs  map[string]string
		code    int
		status  string
		logSays string
	}{
		{"completed", map[string]string{"generation_id": "gen_ok"}, outcome.ExitOK, "completed", "gen_ok: completed"},
		{"failed", map[string]string{"generation_id": "gen_fail"}, outcome.ExitFailed, "failed", "::error title=Generation failed::gen_fail failed: Generation timed out"},
		{"several", map[string]string{"generation_id": "gen_ok, gen_fail\ngen_ok"}, outcome.ExitFailed, "failed", "2 generation(s)"},
		{"deadline", map[string]string{"generation_id": "gen_ok gen_slow", "timeout": "100ms"}, outcome.ExitTimeout, "generating", "::error title=No verdict in time::gen_slow: timeout reached"},
		{"not found", map[string]string{"generation_id": "gen_nope gen_slow"}, outcome.ExitRefused, "", "Check the ID given as generation_id, and that it belongs to the account"},
		{"revoked key", map[string]string{"generation_id": "gen_ok", "api_key": prismsim.KeyRevoked}, outcome.ExitRefused, "", "Check that the secret passed as api_key"},
		{"bad input", map[string]string{"generation_id": "gen_ok", "timeout": "forever", "base_url": "http://example.com"}, outcome.ExitInput, "", "::error title=Invalid input::timeout:"},
		// The website's 404 page, not the API's JSON.
		{"base_url without /api", map[string]string{"generation_id": "gen_ok", "base_url": strings.TrimSuffix(apiBase, "/api")}, outcome.ExitRefused, "", "check that base_url points at the Prism API's root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				_, base := sim(t, scenario)
				r := action(t, context.Background(), base, tc.inputs)
				if r.code != tc.code || r.outputs["status"] != tc.status || !strings.Contains(r.stdout, tc.logSays) {
					t.Errorf("code %d status %q, want %d %q and a log saying %q:\n%s", r.code, r.outputs["status"], tc.code, tc.status, tc.logSays, r.stdout)
				}
				if r.stderr != "" {
					t.Errorf("stderr: %s", r.stderr)
				}
				for _, name := range []string{"status", "video_url", "share_url", "template_id", "created_at", "completed_at", "error", "video_path", "video_sha256", "results"} {
					if _, ok := r.outputs[name]; !ok {
						t.Errorf("output %s not written", name)
					}
				}
			})
		})
	}
}

func TestSeveralIDsKeepInputOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_fail gen_ok"})
		var results []struct{ ID, Status string }
		json.Unmarshal([]byte(r.outputs["results"]), &results)
		if len(results) != 2 || results[0].ID != "gen_fail" || results[1].Status != "completed" {
			t.Errorf("results %+v", results)
		}
		lines := strings.Split(r.outputs["error"], "\n")
		if len(lines) != 2 || lines[0] != "Generation timed out" || lines[1] != "" {
			t.Errorf("error output %q", r.outputs["error"])
		}
	})
}

func TestBadInputSendsNoRequest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, scenario)
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_ok ../../admin"})
		if r.code != outcome.ExitInput || s.Stats("gen_ok").Requests != 0 {
			t.Errorf("code %d after %d requests", r.code, s.Stats("gen_ok").Requests)
		}
	})
}

func TestHungServerCannotStretchTheTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_hang", "timeout": "200ms"})
		if r.code != outcome.ExitTimeout || r.took != 200*time.Millisecond {
			t.Errorf("code %d after %s, want 3 at the 200ms timeout", r.code, r.took)
		}
	})
}

func TestCancelWritesOutputsAndExits3(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		r := action(t, ctx, base, map[string]string{"generation_id": "gen_slow gen_hang"})
		if r.code != outcome.ExitTimeout || r.outputs["status"] != "generating" || !strings.Contains(r.stdout, wait.ErrCanceled.Error()) {
			t.Errorf("code %d status %q:\n%s", r.code, r.outputs["status"], r.stdout)
		}
		if r.took != 100*time.Millisecond {
			t.Errorf("took %s to stop after a cancel at 100ms, want no more", r.took)
		}
	})
}

func TestDownload(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, scenario)
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_ok gen_fail", "download_dir": "out/videos"})
		if r.code != outcome.ExitFailed || r.outputs["video_path"] != "out/videos/gen_ok.mp4\n" || len(strings.Split(r.outputs["video_sha256"], "\n")[0]) != 64 {
			t.Errorf("code %d, outputs %q", r.code, r.outputs)
		}
		if s.Stats("gen_ok").VideoAuthz != 0 {
			t.Error("the API key was sent to the storage host")
		}
	})
}

// TestStorageThatSendsNoWholeVideo: each way storage answers 200 with
// something other than the whole video ends the step with exit code 5,
// no file, and the reason; a verified video's media facts reach the
// outputs; a format without a check is saved with a warning.
func TestStorageThatSendsNoWholeVideo(t *testing.T) {
	t.Parallel()
	_, base := sim(t, `{"generations": {
		"gen_html":    {"steps": [{"status": "completed"}], "video": {"faults": ["html_200"]}},
		"gen_xml":     {"steps": [{"status": "completed"}], "video": {"faults": ["xml_200"]}},
		"gen_empty":   {"steps": [{"status": "completed"}], "video": {"faults": ["empty_200"]}},
		"gen_cut":     {"steps": [{"status": "completed"}], "video": {"bytes": 1048576, "faults": ["cut_no_length"]}},
		"gen_webm_cut": {"steps": [{"status": "completed"}], "video": {"bytes": 1048576, "content_type": "video/webm", "faults": ["cut_no_length"]}},
		"gen_no_moov": {"steps": [{"status": "completed"}], "video": {"faults": ["no_moov"]}},
		"gen_png":     {"steps": [{"status": "completed"}], "video": {"faults": ["png"]}},
		"gen_mp4":     {"steps": [{"status": "completed"}], "video": {"width": 1920, "height": 1080, "duration": "8s", "codec": "hvc1"}},
		"gen_webm":    {"steps": [{"status": "completed"}], "video": {"content_type": "video/webm", "width": 640, "height": 360, "duration": "2.5s"}},
		"gen_avi":     {"steps": [{"status": "completed"}], "video": {"content_type": "video/x-msvideo"}}}}`)
	for _, tc := range []struct {
		id                      string
		code                    int
		says                    string
		file                    string
		duration, width, height string
		codec                   any
	}{
		{"gen_html", outcome.ExitDownload, `storage answered HTTP 200 with Content-Type text/html, not a video; it begins: "<html><body><h1>502 Bad Gateway</h1>`, "", "", "", "", nil},
		{"gen_xml", outcome.ExitDownload, `storage answered HTTP 200 with Content-Type application/xml, not a video; it begins: "<?xml version="1.0"?><Error><Code>SlowDown</Code></Error>"`, "", "", "", "", nil},
		{"gen_empty", outcome.ExitDownload, "storage sent an empty file (HTTP 200 with Content-Length: 0)", "", "", "", "", nil},
		{"gen_cut", outcome.ExitDownload, "the file is not a whole ISO base media (MP4) video: top-level boxes end at 300000 bytes of 1048576", "", "", "", "", nil},
		{"gen_webm_cut", outcome.ExitDownload, "the file is not a whole Matroska (WebM) video: the Segment at byte 36 ends at byte 1048576 of a 300000-byte file", "", "", "", "", nil},
		{"gen_no_moov", outcome.ExitDownload, "the file is not a whole ISO base media (MP4) video: moov box missing", "", "", "", "", nil},
		{"gen_png", outcome.ExitDownload, "storage sent a PNG image, not a video", "", "", "", "", nil},
		{"gen_mp4", outcome.ExitOK, "gen_mp4: verified v/gen_mp4.mp4: MP4, hvc1, 1920x1080, 8s", "gen_mp4.mp4", "8", "1920", "1080", "hvc1"},
		{"gen_webm", outcome.ExitOK, "gen_webm: verified v/gen_webm.webm: WEBM, vp09, 640x360, 2.5s", "gen_webm.webm", "2.5", "640", "360", "vp09"},
		{"gen_avi", outcome.ExitOK, "::warning title=Video not verified::gen_avi: saved v/gen_avi.avi without checking that it is a whole video", "gen_avi.avi", "", "", "", nil},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			r := action(t, context.Background(), base, map[string]string{"generation_id": tc.id, "download_dir": "v"})
			if r.code != tc.code || !strings.Contains(r.stdout, tc.says) {
				t.Errorf("code %d, want %d and a log saying %q:\n%s", r.code, tc.code, tc.says, r.stdout)
			}
			if tc.code == outcome.ExitDownload && !strings.Contains(r.stdout, "::error title=Download failed::download of "+tc.id) {
				t.Errorf("no annotation of the failed download:\n%s", r.stdout)
			}
			var names []string
			entries, _ := os.ReadDir(filepath.Join(r.workspace, "v"))
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{tc.file}; tc.file == "" && len(names) > 0 || tc.file != "" && !slices.Equal(names, want) {
				t.Errorf("the download directory holds %q, want %q", names, tc.file)
			}
			if r.outputs["video_duration"] != tc.duration || r.outputs["video_width"] != tc.width || r.outputs["video_height"] != tc.height {
				t.Errorf("video_duration %q, video_width %q, video_height %q; want %q %q %q",
					r.outputs["video_duration"], r.outputs["video_width"], r.outputs["video_height"], tc.duration, tc.width, tc.height)
			}
			var results []map[string]any
			if err := json.Unmarshal([]byte(r.outputs["results"]), &results); err != nil || len(results) != 1 || results[0]["video_codec"] != tc.codec {
				t.Errorf("results %s, want video_codec %v", r.outputs["results"], tc.codec)
			}
		})
	}
}

func TestCLIMode(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		env := map[string]string{"PRISM_API_KEY": key, "PRISM_BASE_URL": base.URL, "PRISM_POLL_INTERVAL": "10ms"}
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), Env{
			LookupEnv: lookup(env), Args: []string{"gen_ok", "gen_fail"},
			Stdout: &stdout, Stderr: &stderr, Wd: t.TempDir(), Transport: base.Transport,
		})
		var results []map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != 2 {
			t.Fatalf("stdout is not the results JSON: %q", stdout.String())
		}
		if code != outcome.ExitFailed || !strings.Contains(stderr.String(), "error: Generation failed: gen_fail failed") || strings.Contains(stderr.String(), "::") {
			t.Errorf("code %d, stderr:\n%s", code, stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), key) {
			t.Error("the key was printed")
		}
	})
}

func TestOutputsThatCannotBeWrittenAreNotSuccess(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing", "output"),
			"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_GENERATION_ID": "gen_ok", "INPUT_POLL_INTERVAL": "10ms"}
		var stdout bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stdout, Transport: base.Transport})
		if code != outcome.ExitFailed || !strings.Contains(stdout.String(), "Cannot write step outputs") || !strings.HasSuffix(stdout.String(), "; exit code 1\n") {
			t.Errorf("code %d:\n%s", code, stdout.String())
		}
	})
}

// TestASubmitWhoseOutputsCannotBeWrittenIsNotSent: the IDs could not be
// handed on, so nothing is paid for; the advice after a paid submit whose
// outputs are lost says how to wait again without paying again.
func TestASubmitWhoseOutputsCannotBeWrittenIsNotSent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {}}}`)
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing", "output"),
			"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_TEMPLATE_ID": "tpl_x", "INPUT_RERUN_GUARD": "off"}
		var stdout bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stdout, Transport: base.Transport})
		if code != outcome.ExitFailed || !strings.Contains(stdout.String(), "::error title=Cannot write step outputs::failed to open ") ||
			!strings.Contains(stdout.String(), "Later steps would not see the results. Nothing was submitted.") {
			t.Errorf("code %d:\n%s", code, stdout.String())
		}
		if n := s.Submits("/api/templates/tpl_x/generate").Posts; n != 0 {
			t.Errorf("%d POSTs, want none", n)
		}
	})
	// Outputs lost after the submit (their directory removed while
	// waiting): the advice says how to wait again without paying again.
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {"lifecycle": {"steps": [{"status": "generating", "for": "2s"}, {"status": "completed"}]}}}}`)
		dir := t.TempDir()
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(dir, "gone", "output"),
			"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_TEMPLATE_ID": "tpl_x", "INPUT_RERUN_GUARD": "off", "INPUT_POLL_INTERVAL": "100ms"}
		os.Mkdir(filepath.Join(dir, "gone"), 0o755)
		go func() {
			time.Sleep(time.Second)
			os.RemoveAll(filepath.Join(dir, "gone"))
		}()
		var stdout bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stdout, Transport: base.Transport})
		if code != outcome.ExitFailed || !strings.Contains(stdout.String(), "Later steps would not see the results. The generations were created and charged: "+
			"to wait for them again without paying again, pass the IDs this log lists as submitted as generation_id in place of template_id.") {
			t.Errorf("code %d:\n%s", code, stdout.String())
		}
	})
}

// TestASummaryThatCannotBeWrittenIsAWarning: the outputs are written and
// tell the results, so a lost summary changes no exit code, and the
// closing line, last, has the code the step ends with.
func TestASummaryThatCannotBeWrittenIsAWarning(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		dir := t.TempDir()
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "missing", "summary"),
			"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_GENERATION_ID": "gen_ok", "INPUT_POLL_INTERVAL": "10ms"}
		var stdout bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stdout, Transport: base.Transport})
		raw, _ := os.ReadFile(env["GITHUB_OUTPUT"])
		outs, _ := report.ParseOutputs(string(raw))
		if code != outcome.ExitOK || outs["status"] != "completed" || strings.Contains(stdout.String(), "Cannot write step outputs") ||
			!strings.Contains(stdout.String(), "::warning title=Cannot write the step summary::failed to open ") ||
			!strings.Contains(stdout.String(), ". The step's outputs and this log still hold the results.\n") ||
			!strings.HasSuffix(stdout.String(), "; exit code 0\n") {
			t.Errorf("code %d, outputs %v:\n%s", code, outs, stdout.String())
		}
		// Without the outputs either, the warning does not point at them.
		env["GITHUB_OUTPUT"] = filepath.Join(dir, "missing", "output")
		stdout.Reset()
		code = Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stdout, Transport: base.Transport})
		if code != outcome.ExitFailed || !strings.Contains(stdout.String(), "Cannot write step outputs") || strings.Contains(stdout.String(), "outputs and this log still hold") ||
			!strings.Contains(stdout.String(), ". This log still holds the results.\n") {
			t.Errorf("code %d:\n%s", code, stdout.String())
		}
	})
}

// TestFinishWritesOnlyWhatIsKnown: invalid input leaves no results JSON,
// no closing line and no summary; a run with results has all three.
func TestFinishWritesOnlyWhatIsKnown(t *testing.T) {
	t.Parallel()
	t.Run("cli", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			_, base := sim(t, scenario)
			for _, tc := range []struct {
				args    []string
				results bool
			}{
				{[]string{"gen_ok"}, true},
				{[]string{"../bad"}, false},
			} {
				var stdout, stderr bytes.Buffer
				env := map[string]string{"PRISM_API_KEY": key, "PRISM_BASE_URL": base.URL, "PRISM_POLL_INTERVAL": "10ms"}
				Run(context.Background(), Env{LookupEnv: lookup(env), Args: tc.args, Stdout: &stdout, Stderr: &stderr, Wd: t.TempDir(), Transport: base.Transport})
				var results []map[string]any
				gotJSON := json.Unmarshal(stdout.Bytes(), &results) == nil && len(results) == 1
				closing := strings.Contains(stderr.String(), " requests; exit code ")
				if gotJSON != tc.results || closing != tc.results || (!tc.results && stdout.Len() != 0) {
					t.Errorf("%v: stdout %q, closing line %v; want results %v:\n%s", tc.args, stdout.String(), closing, tc.results, stderr.String())
				}
			}
		})
	})
	t.Run("action", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			id      string
			results bool
		}{
			{"gen_ok", true},
			{"../bad", false},
		} {
			// A subtest each: action's output files sit beside its TempDir.
			t.Run(tc.id, func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					_, base := sim(t, scenario)
					r := action(t, context.Background(), base, map[string]string{"generation_id": tc.id})
					closing := strings.Contains(r.stdout, " requests; exit code ")
					summary := strings.Contains(r.summary, "### Prism generations")
					if closing != tc.results || summary != tc.results {
						t.Errorf("%s: closing line %v, summary %v; want %v:\n%s", tc.id, closing, summary, tc.results, r.stdout)
					}
				})
			})
		}
	})
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	env := Env{LookupEnv: lookup(nil), Stdout: &out, Stderr: &errs}
	env.Args = []string{"--help"}
	// Asked for, the help is output: prism-wait --help | less shows it.
	if code := Run(context.Background(), env); code != 0 || !strings.Contains(out.String(), "Exit codes") || errs.Len() > 0 {
		t.Errorf("--help: %d, stdout %q, stderr %q", code, out.String(), errs.String())
	}
	out.Reset()
	env.Args, env.Version = []string{"--version"}, "v1.2.3"
	if code := Run(context.Background(), env); code != 0 || out.String() != "prism-wait v1.2.3\n" {
		t.Errorf("--version: %d %q", code, out.String())
	}
	if v := Version(""); v != "(devel)" {
		t.Errorf("Version(\"\") = %q, want the build info's \"(devel)\" for a test binary", v)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	if got := Version("v1.2.3"); got != "v1.2.3" {
		t.Errorf("Version(stamped) = %q", got)
	}
	if got := Version(""); got == "" {
		t.Error(`Version("") is empty, want the build info's version or "(devel)"`)
	}
}

// panicTransport stands for a bug anywhere under a status read.
type panicTransport struct{}

func (panicTransport) RoundTrip(*http.Request) (*http.Response, error) { panic("transport exploded") }

func TestAPanicIsAnInternalErrorWithExit1(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(t.TempDir(), "out"),
			"INPUT_API_KEY": key, "INPUT_GENERATION_ID": "gen_1 gen_2"}
		var stdout bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stdout, Transport: panicTransport{}})
		raw, _ := os.ReadFile(env["GITHUB_OUTPUT"])
		outs, _ := report.ParseOutputs(string(raw))
		if code != outcome.ExitFailed || !strings.Contains(stdout.String(), "::error title=Internal error::gen_1: internal error: transport exploded") ||
			!strings.Contains(stdout.String(), "::debug::gen_1: internal error: transport exploded; stack:\n::debug::goroutine ") || outs["generation_id"] != "gen_1\ngen_2" {
			t.Errorf("code %d, outputs %v:\n%s", code, outs, stdout.String())
		}
	})
}

// TestUnwritableOutputsOutrankTimeoutsAndDownloads: exit 1 ranks above 5
// and 3 (README), so a timeout with outputs lost is 1.
func TestUnwritableOutputsOutrankATimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing", "output"),
			"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_GENERATION_ID": "gen_slow", "INPUT_POLL_INTERVAL": "10ms", "INPUT_TIMEOUT": "50ms"}
		var stdout bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stdout, Transport: base.Transport})
		if code != outcome.ExitFailed || !strings.Contains(stdout.String(), "Cannot write step outputs") {
			t.Errorf("code %d, want 1:\n%s", code, stdout.String())
		}
	})
}

// TestAnExpiredURLIsRefreshedThroughTransientErrors: storage says the URL
// expired, the API answers the refresh with 503 and Retry-After, then
// with a fresh URL: the download succeeds, and the verdict stands.
func TestAnExpiredURLIsRefreshedThroughTransientErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, `{"generations": {"gen_x": {"steps": [
			{"status": "completed"}, {"http": 503, "retry_after": "2", "times": 2}, {"status": "completed"}],
			"video": {"bytes": 5000, "faults": ["expired_first"]}}}}`)
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_x", "download_dir": "v"})
		if r.code != outcome.ExitOK || r.outputs["video_path"] != "v/gen_x.mp4" || r.outputs["status"] != "completed" {
			t.Errorf("code %d, outputs %q:\n%s", r.code, r.outputs, r.stdout)
		}
		if n := s.Stats("gen_x").Requests; n != 4 {
			t.Errorf("%d status reads, want 4: the verdict, two 503s, the fresh URL", n)
		}
	})
}

// TestARefreshThatSaysGeneratingDoesNotReplaceTheVerdict: a refresh that
// reads "generating" gives no URL, and the result stays completed.
func TestARefreshThatSaysGeneratingDoesNotReplaceTheVerdict(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, `{"generations": {"gen_x": {"steps": [{"status": "completed"}, {"status": "generating"}],
			"video": {"bytes": 5000, "faults": ["expired_first"]}}}}`)
		start := time.Now()
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_x", "download_dir": "v", "timeout": "10m"})
		if r.code != outcome.ExitDownload || r.outputs["status"] != "completed" || r.outputs["video_path"] != "" ||
			!strings.Contains(r.stdout, `the API now answers "generating" without a usable video_url. Look at the generation in Prism's dashboard`) {
			t.Errorf("code %d, outputs %q:\n%s", r.code, r.outputs, r.stdout)
		}
		// One read of the refresh decides: no polling until the deadline.
		if took := time.Since(start); took > time.Minute {
			t.Errorf("the download ended after %v of the bubble's clock, not at the refresh's answer", took)
		}
	})
}

// TestARefreshWarnsAboutItsTrouble: a refresh's transient errors reach
// the log like any status read's.
func TestARefreshWarnsAboutItsTrouble(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, `{"generations": {"gen_x": {"steps": [
			{"status": "completed"}, {"http": 503, "retry_after": "2", "times": 2}, {"status": "completed"}],
			"video": {"bytes": 5000, "faults": ["expired_first"]}}}}`)
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_x", "download_dir": "v"})
		if r.code != outcome.ExitOK || !strings.Contains(r.stdout, "::warning title=Prism API trouble::gen_x: HTTP 503") {
			t.Errorf("code %d:\n%s", r.code, r.stdout)
		}
		if n := strings.Count(r.stdout, "gen_x: completed"); n != 1 {
			t.Errorf("completed logged %d times, want once (the refresh's reads are not news):\n%s", n, r.stdout)
		}
	})
}

func TestAPanicOutsideTheWaitIsExit1Too(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	code := Run(context.Background(), Env{
		LookupEnv: func(k string) (string, bool) {
			switch {
			case k == "GITHUB_ACTIONS":
				return "true", true
			case k == "GITHUB_WORKSPACE":
				panic("lookup exploded")
			}
			return "", false
		},
		Stdout: &out, Stderr: &out,
	})
	if code != outcome.ExitFailed || !strings.Contains(out.String(), "::error title=Internal error::internal error: lookup exploded") || !strings.Contains(out.String(), "::debug::goroutine ") {
		t.Errorf("code %d:\n%s", code, out.String())
	}
}

func TestSubmitSaysWhatItDidAndWarnsOfAShortTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {"variables": ["title"], "videos": 2, "credits": 20,
			"latency": {"typical": 120, "busy": 240}, "lifecycle": {"steps": [{"status": "generating", "times": 1}, {"status": "completed"}]}}}}`)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x", "variables": `{"title": "secret title"}`, "timeout": "3m"})
		for _, want := range []string{
			"submitted 2 generation(s), 20 credits charged: gen_tpl_x_1, gen_tpl_x_2\n",
			"expected in about 2m0s (up to 4m0s when Prism is busy)\n",
			"\nfirst reads at 10ms, 20ms, 30ms, 45ms, 68ms, 101ms, 152ms, 228ms, … after the submit, then every 10ms from 1m36s on (0.8 × the typical estimate)\n",
			"::warning title=Timeout may be too short::Prism expects up to 4m0s when busy, and the timeout is 3m0s.",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("log lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "secret title") {
			t.Error("the request body's values reached the log")
		}
		if r.code != outcome.ExitOK || r.outputs["generation_id"] != "gen_tpl_x_1\ngen_tpl_x_2" || r.outputs["credits_charged"] != "20" {
			t.Errorf("code %d outputs %q", r.code, r.outputs)
		}
		// The first status read comes one poll_interval after the submission:
		// one read while generating, one completed, per generation.
		if n := s.Stats("gen_tpl_x_1").Requests; n != 2 {
			t.Errorf("%d status reads, want 2", n)
		}
	})
}

// The API may answer 404 for an ID its submit has just returned (a read
// that reaches the API before the write): the generation is read again,
// and the step succeeds. Given IDs get no such grace (in wait,
// TestANewIDNotFoundYetIsReadAgain).
func TestASubmittedIDNotFoundAtFirstIsReadAgain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {
			"lifecycle": {"steps": [{"http": 404, "times": 2}, {"status": "completed"}]}}}}`)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x"})
		if r.code != outcome.ExitOK || s.Stats("gen_tpl_x_1").Requests != 3 {
			t.Errorf("code %d after %d reads, want 0 after 3:\n%s", r.code, s.Stats("gen_tpl_x_1").Requests, r.stdout)
		}
	})
}

// A generation the submit returned, read once, then not found: the advice
// is not to check a generation_id the step was not given.
func TestASubmittedGenerationGoneSaysSo(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {
			"lifecycle": {"steps": [{"status": "generating", "times": 1}, {"http": 404}]}}}}`)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x"})
		if r.code != outcome.ExitRefused || !strings.Contains(r.stdout, "though the submit returned it: it was created and charged. Ask Prism support") {
			t.Errorf("code %d:\n%s", r.code, r.stdout)
		}
	})
}

// A timeout shorter than Prism's typical estimate: the reads get dense
// before the deadline, not after it, so a video done at 35s of a 45s
// timeout is seen; the log warns and says why reads are dense from 36s.
// Without a wait, there is no timeout to warn of.
func TestSubmitWithATimeoutShorterThanTheEstimate(t *testing.T) {
	t.Parallel()
	const js = `{"generations": {}, "templates": {"tpl_x": {"latency": {"typical": 60},
		"lifecycle": {"steps": [{"status": "generating", "for": "35s"}, {"status": "completed"}]}}}}`
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, js)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x", "timeout": "45s", "poll_interval": "1s", "max_interval": "30s"})
		for _, want := range []string{
			"::warning title=Timeout may be too short::Prism expects about 1m0s, and the timeout is 45s.",
			"then every 1s from 36s on (0.8 × the timeout, which is shorter than the typical estimate)\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("log lacks %q:\n%s", want, r.stdout)
			}
		}
		if r.code != outcome.ExitOK || r.outputs["status"] != "completed" {
			t.Errorf("code %d, status %q, want 0, completed:\n%s", r.code, r.outputs["status"], r.stdout)
		}
	})
	synctest.Test(t, func(t *testing.T) { // the CLI names its flag
		_, base := sim(t, js)
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(map[string]string{"PRISM_API_KEY": key, "PRISM_TIMEOUT": "45s"}),
			Args: []string{"--base-url", base.URL, "--template-id", "tpl_x"}, Stdout: &stdout, Stderr: &stderr, Wd: t.TempDir(), Transport: base.Transport})
		if want := "and the timeout is 45s. Raise --timeout (PRISM_TIMEOUT) if the step"; code != outcome.ExitOK || !strings.Contains(stderr.String(), want) {
			t.Errorf("code %d, stderr lacks %q:\n%s", code, want, stderr.String())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, js)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x", "timeout": "45s", "wait": "false"})
		if r.code != outcome.ExitOK || strings.Contains(r.stdout, "Timeout may be too short") {
			t.Errorf("code %d, want 0 and no warning of the timeout without a wait:\n%s", r.code, r.stdout)
		}
	})
}

func TestSubmitThroughTheAction(t *testing.T) {
	t.Parallel()
	const js = `{"generations": {},
		"templates": {
			"tpl_ok": {"credits": 20, "latency": {"typical": 2, "busy": 4}, "lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}},
			"tpl_busy": {"submit": [{"http": 429, "retry_after": "0", "times": 2}, {"ok": true}], "lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}},
			"tpl_gone": {"submit": [{"http": 404}]}},
		"prompt": {"lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}}}`
	for _, tc := range []struct {
		name    string
		inputs  map[string]string
		code    int
		logSays []string
	}{
		{"template", map[string]string{"template_id": "tpl_ok"}, outcome.ExitOK, []string{
			"submitting template tpl_ok at " + apiBase, "20 credits charged", "expected in about 2s (up to 4s when Prism is busy)"}},
		{"retried after 429", map[string]string{"template_id": "tpl_busy"}, outcome.ExitOK, []string{
			"::warning title=Submit not accepted yet::HTTP 429 rate_limited", "so it is sent again when the API's rate limit allows"}},
		{"refused", map[string]string{"template_id": "tpl_gone"}, outcome.ExitRefused, []string{"HTTP 404 not_found", "\nprism-wait: nothing waited for after 0s, 1 request; exit code 4\n"}},
		{"prompt", map[string]string{"prompt": "a cat", "model": "m"}, outcome.ExitOK, []string{"submitting a prompt at " + apiBase}},
		{"no wait, with a download_dir", map[string]string{"template_id": "tpl_ok", "wait": "false", "download_dir": "videos"}, outcome.ExitOK, []string{
			"::warning title=Nothing downloaded::download_dir is set, but wait is false: nothing is downloaded.",
			"\nprism-wait: 1 submitted after 0s, 1 request; exit code 0\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				_, base := sim(t, js)
				r := action(t, context.Background(), base, tc.inputs)
				if r.code != tc.code {
					t.Errorf("code %d, want %d:\n%s", r.code, tc.code, r.stdout)
				}
				if _, err := os.Stat(filepath.Join(r.workspace, "videos")); tc.inputs["wait"] == "false" && err == nil {
					t.Error("download_dir made without a wait")
				}
				// A paid submit is in the summary, waited for or not.
				if !strings.Contains(r.summary, "1 submitted in 0s") && !strings.Contains(r.summary, "1 completed in") && tc.code == outcome.ExitOK {
					t.Errorf("summary does not tally the submitted generation:\n%s", r.summary)
				}
				if tc.inputs["wait"] == "false" && !regexp.MustCompile("\n\\| `gen_[^`]+` \\| submitted \\|").MatchString(r.summary) {
					t.Errorf("summary lacks the submitted generation's row:\n%s", r.summary)
				}
				for _, want := range tc.logSays {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("log lacks %q:\n%s", want, r.stdout)
					}
				}
			})
		})
	}
}

// A submit refused again and again warns once, at the first refusal; the
// later ones are debug lines, so the job's annotations are not flooded.
func TestSubmitRefusalsWarnOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		refusals  int
		wantDebug int
	}{
		{"once", 1, 0},
		{"three times", 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				_, base := sim(t, `{"generations": {}, "templates": {"tpl_busy": {"submit": [{"http": 429, "retry_after": "0", "times": `+strconv.Itoa(tt.refusals)+`}, {"ok": true}],
					"lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}}}}`)
				r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_busy"})
				if r.code != outcome.ExitOK {
					t.Fatalf("code %d, want %d:\n%s", r.code, outcome.ExitOK, r.stdout)
				}
				if n := strings.Count(r.stdout, "::warning title=Submit not accepted yet::"); n != 1 {
					t.Errorf("%d warnings of the refused submit, want 1:\n%s", n, r.stdout)
				}
				if n := strings.Count(r.stdout, "::debug::submit: HTTP 429"); n != tt.wantDebug {
					t.Errorf("%d debug lines of later refusals, want %d:\n%s", n, tt.wantDebug, r.stdout)
				}
			})
		})
	}
}

func TestAWorkspaceThatCannotBeOpenedStopsBeforeTheSubmit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {}}}`)
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": filepath.Join(t.TempDir(), "missing"),
			"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_TEMPLATE_ID": "tpl_x", "INPUT_DOWNLOAD_DIR": "videos"}
		var out bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &out, Stderr: &out, Transport: base.Transport})
		if code != outcome.ExitInput || s.Submits(prismsim.TemplatePath("tpl_x")).Posts != 0 || !strings.Contains(out.String(), "::error title=Invalid input::download_dir: cannot open the workspace") {
			t.Errorf("code %d, %d POSTs:\n%s", code, s.Submits(prismsim.TemplatePath("tpl_x")).Posts, out.String())
		}
	})
}

// unwritable makes dir a directory this process cannot create files in:
// read-only for a user, immutable for root (chattr +i). The test is
// skipped where neither works, as on a tmpfs as root.
func unwritable(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err == nil {
			t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
		} else {
			t.Logf("chattr +i: %v %s", err, out)
		}
	} else if err := os.Chmod(dir, 0o555); err == nil {
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}
	if f, err := os.Create(filepath.Join(dir, "probe")); err == nil {
		f.Close()
		os.Remove(f.Name())
		t.Skipf("cannot make %s unwritable here", dir)
	}
}

// TestADownloadDirThatCannotBeWrittenStopsBeforeTheSubmit: the directory
// exists and is inside the workspace, but nothing can be created in it:
// found before the submit is paid for, exit 2.
func TestADownloadDirThatCannotBeWrittenStopsBeforeTheSubmit(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	unwritable(t, filepath.Join(ws, "videos"))
	synctest.Test(t, func(t *testing.T) {
		s, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {}}}`)
		for _, dir := range []string{"videos", "videos/2026"} {
			env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws,
				"INPUT_API_KEY": key, "INPUT_BASE_URL": base.URL, "INPUT_TEMPLATE_ID": "tpl_x", "INPUT_DOWNLOAD_DIR": dir}
			var out bytes.Buffer
			code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &out, Stderr: &out, Transport: base.Transport})
			if code != outcome.ExitInput || s.APIStats().Requests != 0 ||
				!strings.Contains(out.String(), "::error title=Invalid input::download_dir: cannot create ") ||
				!strings.Contains(out.String(), "check that the user prism-wait runs as can write there") {
				t.Errorf("%s: code %d, %d requests:\n%s", dir, code, s.APIStats().Requests, out.String())
			}
		}
	})
	if left, _ := os.ReadDir(filepath.Join(ws, "videos")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestASubmitThrottledPastTheDeadlineIsATimeout: the API refused every
// attempt with 429, so nothing was created: exit 3, and say so.
func TestASubmitThrottledPastTheDeadlineIsATimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for _, retryAfter := range []string{"3600", ""} {
			s, base := sim(t, `{"generations": {}, "templates": {"tpl_x": {"submit": [{"http": 429, "retry_after": "`+retryAfter+`"}]}}}`)
			r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x", "timeout": "1s"})
			if r.code != outcome.ExitTimeout || !strings.Contains(r.stdout, "::error title=Submit did not finish::") ||
				!strings.Contains(r.stdout, "Nothing was created or charged") || strings.Contains(r.stdout, "base_url") {
				t.Errorf("Retry-After %q: code %d, want 3:\n%s", retryAfter, r.code, r.stdout)
			}
			if retryAfter != "" && s.Submits(prismsim.TemplatePath("tpl_x")).Posts != 1 {
				t.Errorf("%d POSTs, want 1: a Retry-After past the deadline ends at once", s.Submits(prismsim.TemplatePath("tpl_x")).Posts)
			}
		}
	})
}

// TestTheCLIInARunStep: GITHUB_ACTIONS=true without INPUT_*: flags and
// PRISM_* are read, stdout is only the results JSON, the log (commands
// included) goes to stderr, and the outputs are written too.
func TestTheCLIInARunStep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, scenario)
		dir := t.TempDir()
		env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": filepath.Join(dir, "out"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "sum"),
			"PRISM_API_KEY": key, "PRISM_POLL_INTERVAL": "10ms"}
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Args: []string{"--base-url", base.URL, "gen_ok"}, Stdout: &stdout, Stderr: &stderr,
			Wd: dir, Transport: base.Transport})
		var results []map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != 1 || code != outcome.ExitOK {
			t.Fatalf("code %d, stdout is not the results JSON: %q", code, stdout.String())
		}
		if !strings.HasPrefix(stderr.String(), "::add-mask::"+key+"\n") || !strings.Contains(stderr.String(), "gen_ok: completed") {
			t.Errorf("stderr:\n%s", stderr.String())
		}
		raw, _ := os.ReadFile(env["GITHUB_OUTPUT"])
		if outs, _ := report.ParseOutputs(string(raw)); outs["status"] != "completed" {
			t.Errorf("outputs %q", outs)
		}
	})
}

// lenientAPI answers a submit with status and body, and every status read
// with read(id, n) for its n-th read (completed, with completed_at as a
// Unix time, when read is nil); it counts the reads per ID. Call it in a
// bubble, as sim.
func lenientAPI(t *testing.T, status int, body string, read func(id string, n int) string) (base api, reads func(id string) int) {
	t.Helper()
	var mu sync.Mutex
	count := map[string]int{}
	tr := testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/api/generations/")
		mu.Lock()
		count[id]++
		n := count[id]
		mu.Unlock()
		if read != nil {
			io.WriteString(w, read(id, n))
			return
		}
		io.WriteString(w, `{"id":"`+id+`","status":"completed","video_url":"https://storage.example/`+id+`.mp4","completed_at":1767225600}`)
	}))
	return api{URL: apiBase, Transport: tr}, func(id string) int { mu.Lock(); defer mu.Unlock(); return count[id] }
}

func generations(n int) (list string, ids []string) {
	entries := make([]string, n)
	for i := range entries {
		ids = append(ids, fmt.Sprintf("gen_%03d", i+1))
		entries[i] = `{"generation_id":"` + ids[i] + `","status":"generating"}`
	}
	return "[" + strings.Join(entries, ",") + "]", ids
}

// TestIDsTheSubmitAnswerMarksFailed: without a wait, the step hands them
// on with a warning and says so in status and results (the wait that
// follows fails on them, and waits for the others); with a wait, the reads tell, and one past the first 100,
// which is not read, is failed all the same, not "not waited for".
func TestIDsTheSubmitAnswerMarksFailed(t *testing.T) {
	t.Parallel()
	const js = `{"generations": {}, "templates": {"tpl_doomed": {"videos": 2, "lifecycle": {"steps": [{"status": "failed", "error": "Policy"}]}}}}`
	synctest.Test(t, func(t *testing.T) {
		_, base := sim(t, js)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_doomed", "wait": "false"})
		var results []struct{ ID, Status, Error string }
		json.Unmarshal([]byte(r.outputs["results"]), &results)
		if r.code != outcome.ExitOK || r.outputs["status"] != "failed" || r.outputs["generation_id"] != "gen_tpl_doomed_1\ngen_tpl_doomed_2" ||
			fmt.Sprint(results) != "[{gen_tpl_doomed_1 failed Policy} {gen_tpl_doomed_2 failed Policy}]" ||
			!strings.Contains(r.stdout, "::warning title=Generation failed::gen_tpl_doomed_2: the submit answer marks it failed already (Policy); a wait for it will fail.") ||
			!strings.Contains(r.summary, "2 submitted, 2 of them marked failed") {
			t.Errorf("no wait: code %d, outputs %v\n%s", r.code, r.outputs, r.stdout)
		}
		r = action(t, context.Background(), base, map[string]string{"template_id": "tpl_doomed"})
		if r.code != outcome.ExitFailed || !strings.Contains(r.stdout, "gen_tpl_doomed_3 failed: Policy") || strings.Contains(r.stdout, "marks it failed") {
			t.Errorf("waiting: code %d\n%s", r.code, r.stdout)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		list, ids := generations(prism.MaxIDs + 2)
		list = strings.Replace(list, `"`+ids[prism.MaxIDs+1]+`","status":"generating"`, `"`+ids[prism.MaxIDs+1]+`","status":"failed","error":"Policy"`, 1)
		base, _ := lenientAPI(t, 200, `{"generations":`+list+`}`, nil)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x"})
		if r.code != outcome.ExitFailed || r.outputs["status"] != "failed" || !strings.Contains(r.stdout, ids[prism.MaxIDs+1]+" failed: Policy") ||
			!strings.Contains(r.summary, "1 failed, 1 not waited for") {
			t.Errorf("past the first 100: code %d, status %q\n%.3000s\n%s", r.code, r.outputs["status"], r.stdout, r.summary)
		}
	})
}

// TestASubmitAnswerKeepsEveryID: whatever else is wrong with a submit's
// answer, every valid generation ID it lists is in generation_id and
// results, and the step waits for them. Entries without one end the step
// with no success: exit 3, or 1 when the answer marks one failed.
func TestASubmitAnswerKeepsEveryID(t *testing.T) {
	t.Parallel()
	two := `"generations":[{"generation_id":"gen_a"},{"generation_id":"gen_b"}]`
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		credits string
		logSays []string
		code    int
		output  string // the status output
	}{
		{"201", 201, `{` + two + `,"credits_charged":20}`, "20", nil, outcome.ExitOK, "completed"},
		{"202", 202, `{` + two + `}`, "", nil, outcome.ExitOK, "completed"},
		{"credits as a string", 200, `{` + two + `,"credits_charged":"twenty"}`, "",
			[]string{`the submit answer's credits_charged is not a number: "twenty"; left empty`}, outcome.ExitOK, "completed"},
		{"latency as a number", 200, `{` + two + `,"latency_estimate_sec":127}`, "",
			[]string{"the submit answer's latency_estimate_sec is not an object: 127; left empty"}, outcome.ExitOK, "completed"},
		{"latency with string fields", 200, `{` + two + `,"latency_estimate_sec":{"typical":"127","busy":"241"}}`, "",
			[]string{`latency_estimate_sec.typical is not a number: "127"`, `latency_estimate_sec.busy is not a number: "241"`}, outcome.ExitOK, "completed"},
		{"an unusable entry beside two good IDs", 200, `{"generations":[{"generation_id":"gen_a"},{"generation_id":"##[stop-commands]x"},{"generation_id":"gen_b"}]}`, "",
			[]string{`::warning title=Unusable entries in the submit answer::1 of the API's entries cannot be waited for: entry 2: generation_id "## [stop-commands]x" is not a plain ID.`,
				"The step goes on with the 2 usable generation ID(s), and ends with exit code 3 (no verdict) for the others, or 1 if the answer marks one failed.",
				"::error title=Not waited for::The submit answer has entries with no generation ID to wait for (1: entry 2:",
				"prism-wait: 2 completed, 1 with no ID to wait for after"}, outcome.ExitTimeout, outcome.StatusNotWaited},
		{"the key as an entry", 200, `{"generations":[{"generation_id":"gen_a"},{"generation_id":"` + key + `"},{"generation_id":"gen_b"}]}`, "",
			[]string{`entry 2: generation_id "***" is not a plain ID`}, outcome.ExitTimeout, outcome.StatusNotWaited},
		{"failed entries without an ID", 200, `{"generations":[{"generation_id":"gen_a"},{"generation_id":null,"status":"failed","error":"policy"},{"generation_id":"gen_b"},{"generation_id":"gen_a"}]}`, "",
			[]string{"::error title=Generation failed::The submit answer marks 1 of its entries failed, with no generation ID to wait for (entry 2: no generation_id string in"}, outcome.ExitFailed, "failed"},
		{"an ID listed again", 200, `{"generations":[{"generation_id":"gen_a"},{"generation_id":"gen_b"},{"generation_id":"gen_a"}]}`, "",
			[]string{"entry 3: gen_a is listed again. The step goes on with the 2 usable generation ID(s).\n"}, outcome.ExitOK, "completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				base, reads := lenientAPI(t, tc.status, tc.body, nil)
				r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x"})
				var results []struct{ ID, Status string }
				json.Unmarshal([]byte(r.outputs["results"]), &results)
				if r.code != tc.code || r.outputs["status"] != tc.output || r.outputs["generation_id"] != "gen_a\ngen_b" || r.outputs["credits_charged"] != tc.credits ||
					len(results) != 2 || results[1].ID != "gen_b" || results[1].Status != "completed" || r.outputs["completed_at"] != "1767225600\n1767225600" {
					t.Errorf("code %d, outputs %q:\n%s", r.code, r.outputs, r.stdout)
				}
				if reads("gen_a") == 0 || reads("gen_b") == 0 {
					t.Error("the step did not wait for both generations")
				}
				for _, want := range tc.logSays {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("log lacks %q:\n%s", want, r.stdout)
					}
				}
			})
		})
	}
}

// TestASubmitOfMoreThanOneStepWaitsFor: all the IDs are in the outputs;
// the step waits for the first MaxIDs, says which it does not wait for
// and how to, and does not report success for videos it never checked.
func TestASubmitOfMoreThanOneStepWaitsFor(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		list, ids := generations(prism.MaxIDs + 12)
		base, reads := lenientAPI(t, 200, `{"generations":`+list+`,"credits_charged":1120}`, nil)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x"})
		if r.code != outcome.ExitTimeout || r.outputs["generation_id"] != strings.Join(ids, "\n") || r.outputs["status"] != outcome.StatusNotWaited {
			t.Errorf("code %d, status %q, generation_id %q", r.code, r.outputs["status"], r.outputs["generation_id"])
		}
		var results []struct {
			ID     string
			Status *string
		}
		if err := json.Unmarshal([]byte(r.outputs["results"]), &results); err != nil || len(results) != len(ids) {
			t.Fatalf("results: %d, %v", len(results), err)
		}
		for i, res := range results {
			want := "completed"
			if i >= prism.MaxIDs {
				want = outcome.StatusNotWaited
			}
			if res.ID != ids[i] || res.Status == nil || *res.Status != want {
				t.Errorf("result %d: %s %v, want %s %s", i, res.ID, res.Status, ids[i], want)
			}
			if waited := reads(ids[i]) > 0; waited != (i < prism.MaxIDs) {
				t.Errorf("%s read %d times", ids[i], reads(ids[i]))
			}
		}
		says := "this step waits for the first 100 and not for the other 12 (gen_101, gen_102, gen_103, gen_104, gen_105, gen_106, gen_107, gen_108, gen_109, gen_110 and 2 more). " +
			"It ends with exit code 3 (no verdict) even when the 100 complete"
		for _, want := range []string{
			"::warning title=Not waited for::The API created 112 generations, more than the 100 one step waits for: " + says,
			"::error title=Not waited for::The API created 112 generations",
			"as generation_id to later steps that run even when this one fails: all 112 are in the results",
			"prism-wait: 100 completed, 12 not waited for after ",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("log lacks %q:\n%s", want, r.stdout)
			}
		}
		if n := strings.Count(r.stdout, "title=Not waited for"); n != 2 {
			t.Errorf("%d annotations about them, want a warning and an error", n)
		}
	})
}

// TestASubmitOfThousandsListsTheFirstMaxListed: a submit answering 3000
// IDs of 128 bytes each keeps the outputs under GitHub's 1 MB per job
// (counted in UTF-16): they list the first MaxListed, and the log lists
// every ID, on bounded lines.
func TestASubmitOfThousandsListsTheFirstMaxListed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n = 3000
		entries := make([]string, n)
		ids := make([]string, n)
		for i := range entries {
			ids[i] = fmt.Sprintf("gen_%0124d", i+1)
			entries[i] = `{"generation_id":"` + ids[i] + `"}`
		}
		base, reads := lenientAPI(t, 200, `{"generations":[`+strings.Join(entries, ",")+`]}`, nil)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x"})
		listed := ids[:report.MaxListed]
		if r.code != outcome.ExitTimeout || r.outputs["generation_id"] != strings.Join(listed, "\n") || r.outputs["status"] != outcome.StatusNotWaited {
			t.Errorf("code %d, status %q, %d generation_id lines", r.code, r.outputs["status"], strings.Count(r.outputs["generation_id"], "\n")+1)
		}
		var results []struct{ ID, Status string }
		if err := json.Unmarshal([]byte(r.outputs["results"]), &results); err != nil || len(results) != report.MaxListed || results[report.MaxListed-1].ID != listed[report.MaxListed-1] {
			t.Errorf("results: %d, %v", len(results), err)
		}
		size := 0
		for k, v := range r.outputs {
			size += len(k) + len(v)
		}
		if 2*size >= 1<<20 {
			t.Errorf("outputs of %d bytes, %d in UTF-16: over 1 MiB", size, 2*size)
		}
		if reads(ids[prism.MaxIDs-1]) == 0 || reads(ids[prism.MaxIDs]) != 0 {
			t.Error("the step did not wait for exactly the first MaxIDs")
		}
		for i, id := range ids {
			if !strings.Contains(r.stdout, id) {
				t.Fatalf("ID %d is not in the log", i+1)
			}
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if len(line) > report.MaxLine+200 {
				t.Fatalf("a log line of %d bytes: %.200s", len(line), line)
			}
		}
		for _, want := range []string{
			"submitted 3000 generation(s):\n",
			"submitted 2976–3000: " + ids[2975] + ", ",
			"::error title=Not waited for::The API created 3000 generations, more than the 100 one step waits for: this step waits for the first 100 and not for the other 2900 (",
			`the first 500 are in the results, in the API's order (in GitHub Actions, in the generation_id output too), and all 3000 in the log's "submitted" lines.`,
			"prism-wait: 100 completed, 2900 not waited for after ",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("log lacks %q", want)
			}
		}
		// Without the wait, the same bounds, and a warning.
		r = action(t, context.Background(), base, map[string]string{"template_id": "tpl_x", "wait": "false"})
		if err := json.Unmarshal([]byte(r.outputs["results"]), &results); err != nil || len(results) != report.MaxListed || results[0].Status != report.StatusSubmitted ||
			r.outputs["generation_id"] != strings.Join(listed, "\n") || r.code != outcome.ExitOK {
			t.Errorf("wait false: code %d, %d results, %v", r.code, len(results), err)
		}
		if want := `::warning title=Not every ID in the outputs::The API created 3000 generations: the outputs and results list the first 500, and the log's "submitted" lines all 3000.`; !strings.Contains(r.stdout, want) {
			t.Errorf("wait false: log lacks %q", want)
		}
	})
}

// TestASubmitAnswerWithoutUsableIDsIsAnUnknownOutcome: a 2xx that lists
// no usable ID stays exit 4, with nothing to wait for.
func TestASubmitAnswerWithoutUsableIDsIsAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"credits_charged":10}`, `{"generations":[{"generation_id":"../x"}]}`} {
		synctest.Test(t, func(t *testing.T) {
			base, _ := lenientAPI(t, 202, body, nil)
			r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x"})
			if r.code != outcome.ExitRefused || r.outputs["generation_id"] != "" || !strings.Contains(r.stdout, "::error title=Submit outcome unknown::") {
				t.Errorf("%s: code %d, outputs %q:\n%s", body, r.code, r.outputs, r.stdout)
			}
		})
	}
}

// TestAStatusWithFieldsOfOtherTypesHasItsVerdict: the verdict comes from
// status; optional fields of another type are shown as compact text.
func TestAStatusWithFieldsOfOtherTypesHasItsVerdict(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		base, reads := lenientAPI(t, 200, "", func(id string, n int) string {
			return `{"status":"failed","error":{"code":"x"}}`
		})
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_a"})
		if r.code != outcome.ExitFailed || r.outputs["status"] != "failed" || r.outputs["error"] != `{"code":"x"}` || reads("gen_a") != 1 {
			t.Errorf("code %d after %d reads, outputs %q:\n%s", r.code, reads("gen_a"), r.outputs, r.stdout)
		}
		if !strings.Contains(r.stdout, `::error title=Generation failed::gen_a failed: {"code":"x"}`) {
			t.Errorf("log:\n%s", r.stdout)
		}
	})
}

// TestAnAnswerForAnotherGenerationIsReadAgain: such an answer is not
// trusted; the step warns once per generation, not on every retry.
func TestAnAnswerForAnotherGenerationIsReadAgain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		base, reads := lenientAPI(t, 200, "", func(id string, n int) string {
			if n <= 3 {
				return `{"id":"gen_other","status":"failed","error":"not yours"}`
			}
			return `{"id":"` + id + `","status":"completed","video_url":"https://storage.example/v.mp4"}`
		})
		r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_a gen_b"})
		if r.code != outcome.ExitOK || r.outputs["status"] != "completed" || reads("gen_a") != 4 || reads("gen_b") != 4 {
			t.Errorf("code %d after %d and %d reads:\n%s", r.code, reads("gen_a"), reads("gen_b"), r.stdout)
		}
		for _, id := range []string{"gen_a", "gen_b"} {
			warning := "::warning title=Prism API trouble::" + id + `: invalid response body: the API answered for generation "gen_other", not for ` + id
			if n := strings.Count(r.stdout, warning); n != 1 {
				t.Errorf("%d warnings for %s, want 1:\n%s", n, id, r.stdout)
			}
		}
	})
}

// TestOwnWordsPrintAsWritten: prism-wait's own messages and --help name the
// key's shape, prism_sk_…; only text from the network and the key itself
// are redacted, so they print as written.
func TestOwnWordsPrintAsWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no key, action", map[string]string{"GITHUB_ACTIONS": "true", "INPUT_API_KEY": "", "INPUT_GENERATION_ID": "gen_ok"}, nil,
			"::error title=Invalid input::api_key: required: the Prism API key (prism_sk_…), from a secret: api_key: ${{ secrets.PRISM_API_KEY }}. " +
				"If that is what the workflow says, check the secret's name and that it is set for this repository or environment; a pull request from a fork gets no secrets"},
		{"no key, CLI", nil, []string{"gen_ok"}, "--api-key (PRISM_API_KEY): required: the Prism API key (prism_sk_…), from a secret or a masked CI variable\n"},
		{"no key, CLI in a run: step", map[string]string{"GITHUB_ACTIONS": "true"}, []string{"gen_ok"},
			"--api-key (PRISM_API_KEY): required: the Prism API key (prism_sk_…), from a secret, in the step's env: PRISM_API_KEY: ${{ secrets.PRISM_API_KEY }}; a pull request from a fork gets no secrets\n"},
		{"help", nil, []string{"--help"}, "Prism API key, prism_sk_… (prefer PRISM_API_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			Run(context.Background(), Env{LookupEnv: lookup(tc.env), Args: tc.args, Stdout: &out, Stderr: &out, Wd: t.TempDir()})
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("the output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}

// A generation just submitted may not be known yet to every server of
// the API: its 404s are read again for 30 s, or for three poll_intervals
// when that is longer, and then they are a refusal.
func TestAJustSubmittedIDIsReadAgainAfterA404(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		poll    string
		unknown time.Duration // how long the API answers 404
		code    int
	}{
		{"1s", 25 * time.Second, outcome.ExitOK},
		{"1s", 35 * time.Second, outcome.ExitRefused},
		{"20s", 55 * time.Second, outcome.ExitOK}, // three poll_intervals: 60 s
	} {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			tr := testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost:
					io.WriteString(w, `{"generations":[{"generation_id":"gen_a"}]}`)
				case time.Since(start) < tc.unknown:
					w.WriteHeader(http.StatusNotFound)
					io.WriteString(w, `{"error":"not_found","message":"Generation not found"}`)
				default:
					io.WriteString(w, `{"id":"gen_a","status":"completed","video_url":"https://storage.example/a.mp4"}`)
				}
			}))
			r := action(t, context.Background(), api{URL: apiBase, Transport: tr},
				map[string]string{"template_id": "tpl_x", "poll_interval": tc.poll, "max_interval": tc.poll, "timeout": "5m"})
			if r.code != tc.code {
				t.Errorf("poll_interval %s, 404s for %s: code %d, want %d:\n%s", tc.poll, tc.unknown, r.code, tc.code, r.stdout)
			}
		})
	}
}

// The read plan names what it ends at: the estimate, or the timeout only
// when that is shorter.
func TestTheReadPlanSaysWhatItEndsAt(t *testing.T) {
	t.Parallel()
	const shorter = "0.8 × the timeout, which is shorter than the typical estimate"
	for _, tc := range []struct {
		timeout string
		says    string
	}{
		{"45s", "0.8 × the typical estimate)"},
		{"44s", shorter},
		{"46s", "0.8 × the typical estimate)"},
	} {
		synctest.Test(t, func(t *testing.T) {
			base, _ := lenientAPI(t, 200, `{"generations":[{"generation_id":"gen_a"}],"latency_estimate_sec":{"typical":45,"busy":60}}`, nil)
			r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x", "poll_interval": "1s", "timeout": tc.timeout})
			if !strings.Contains(r.stdout, "first reads at ") || !strings.Contains(r.stdout, tc.says) || tc.says != shorter && strings.Contains(r.stdout, shorter) {
				t.Errorf("timeout %s: log lacks %q:\n%s", tc.timeout, tc.says, r.stdout)
			}
		})
	}
}

// A submit that creates exactly MaxListed generations lists them all: no
// warning that some are left out.
func TestASubmitOfMaxListedIsListedWhole(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		entries := make([]string, report.MaxListed)
		for i := range entries {
			entries[i] = fmt.Sprintf(`{"generation_id":"gen_%d"}`, i+1)
		}
		base, _ := lenientAPI(t, 200, `{"generations":[`+strings.Join(entries, ",")+`]}`, nil)
		r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_x", "wait": "false"})
		if r.code != outcome.ExitOK || strings.Contains(r.stdout, "Not every ID in the outputs") || strings.Count(r.outputs["generation_id"], "\n") != report.MaxListed-1 {
			t.Errorf("code %d, %d IDs in the outputs:\n%.2000s", r.code, strings.Count(r.outputs["generation_id"], "\n")+1, r.stdout)
		}
	})
}

// A prompt's submit answered 404 has no template to blame: the advice
// is about base_url.
func TestASubmit404SaysWhatWasNotFound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		inputs map[string]string
		says   string
	}{
		{map[string]string{"template_id": "tpl_x"}, "Check template_id, and that the template belongs to the account of this API key."},
		{map[string]string{"prompt": "a cat", "model": "m"}, "there is no prompt-to-video endpoint there. Check that base_url points at the Prism API's root"},
	} {
		synctest.Test(t, func(t *testing.T) {
			base, _ := lenientAPI(t, 404, `{"error":"not_found","message":"Not found"}`, nil)
			r := action(t, context.Background(), base, tc.inputs)
			if r.code != outcome.ExitRefused || !strings.Contains(r.stdout, tc.says) {
				t.Errorf("%v: code %d, log lacks %q:\n%s", tc.inputs, r.code, tc.says, r.stdout)
			}
		})
	}
}

package e2e

// Nothing reaches stdout or stderr but through prism-wait's scrubbing log:
// not what Go's standard library prints on its own (net/http's log lines,
// which quote what a server sent; HTTP/2 debug logging, which shows every
// header), nor the flag package's messages, which quote arguments raw.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/report"
)

// strayBytes are sent after a response on a keep-alive connection: net/http
// logs them, quoted, when they arrive on an idle connection.
const strayBytes = "##[error title=PWN]x\n##[stop-commands]x y\n::error::x\n"

// answerThenStray writes one HTTP/1.1 response, keeps the connection open,
// sends strayBytes soon after, then closes it.
func answerThenStray(w http.ResponseWriter, contentType string, body []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", contentType, len(body))
	buf.Write(body)
	buf.Flush()
	go func() {
		defer conn.Close()
		time.Sleep(20 * time.Millisecond) // the client is done with the response: the connection is idle
		io.WriteString(conn, strayBytes)
		bufio.NewReader(conn).ReadByte() // until the client closes it
	}()
}

// strayServers serve the API and storage on two hosts; from says which of
// them sends stray bytes after each response. gen_a completes at once,
// gen_b after a few reads, so that the process is still running when the
// bytes after gen_a's download arrive.
func strayServers(t *testing.T, from string) (base string) {
	t.Helper()
	video := prismsim.NewContent("gen_a", 1, 4096)
	raw, _ := io.ReadAll(video)
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if from == "storage" {
			answerThenStray(w, "video/mp4", raw)
			return
		}
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(raw)
	}))
	t.Cleanup(storage.Close)
	var mu sync.Mutex
	reads := map[string]int{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/api/generations/")
		mu.Lock()
		reads[id]++
		n := reads[id]
		mu.Unlock()
		body := fmt.Sprintf(`{"id":%q,"status":"generating"}`, id)
		if id == "gen_a" || n > 6 {
			body = fmt.Sprintf(`{"id":%q,"status":"completed","video_url":"%s/videos/%s.mp4"}`, id, storage.URL, id)
		}
		if from == "api" {
			answerThenStray(w, "application/json", []byte(body))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(api.Close)
	return api.URL + "/api"
}

// TestStrayBytesFromAServerAreNoCommand: a server that sends bytes after a
// response on a keep-alive connection (from the API host or from storage)
// makes net/http log them; the line reaches the log only as a scrubbed
// debug line, in the action and in the CLI in a run: step.
func TestStrayBytesFromAServerAreNoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for _, from := range []string{"api", "storage"} {
		for _, mode := range []string{"action", "cli"} {
			t.Run(from+" "+mode, func(t *testing.T) {
				t.Parallel()
				base := strayServers(t, from)
				c := newContainer(t)
				var r run
				var log string
				if mode == "action" {
					r = c.act(t, fast(map[string]string{"generation_id": "gen_a gen_b", "base_url": base, "download_dir": "videos", "poll_interval": "50ms", "timeout": "20s"}))
					log = r.stdout
					if r.stderr != "" {
						t.Errorf("stderr in the action: %s", r.stderr)
					}
				} else {
					r = c.runStep(t, map[string]string{"PRISM_API_KEY": e2eKey, "PRISM_BASE_URL": base},
						"--poll-interval", "50ms", "--timeout", "20s", "--download-dir", "videos", "gen_a", "gen_b")
					log = r.stderr
				}
				if r.code != 0 || r.outputs["status"] != "completed" {
					t.Errorf("exit %d, status %q; want 0, completed\n%s", r.code, r.outputs["status"], log)
				}
				// The stray bytes did reach net/http's log, and from there only
				// a debug line, neutralised.
				if !strings.Contains(log, "::debug::Unsolicited response received on idle HTTP channel") {
					t.Errorf("no debug line for the stray bytes:\n%s", log)
				}
				if strings.Contains(r.stdout+r.stderr, "##[") {
					t.Errorf("legacy command syntax reached the output:\n%s%s", r.stdout, r.stderr)
				}
			})
		}
	}
}

// TestHTTP2DebugLoggingShowsNoKey: with GODEBUG=http2debug=2, Go's HTTP/2
// transport logs every header it sends, Authorization included; the key
// is redacted there like everywhere, in the action and in the CLI.
func TestHTTP2DebugLoggingShowsNoKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for _, mode := range []string{"action", "cli in a run step", "cli"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv, err := prismsim.NewH2(prismsim.H2ResetAlways) // status reads are answered
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			c := newContainer(t)
			var r run
			switch mode {
			case "action":
				r = c.actWithEnv(t, fast(map[string]string{"generation_id": "gen_h2_1", "base_url": srv.URL}), c.trust(t, srv.CertPEM), "GODEBUG=http2debug=2")
				if !strings.Contains(r.stdout, "::debug::http2: Transport encoding header \"authorization\" = \"Bearer ***\"") {
					t.Errorf("no debug line for the header, redacted:\n%s", r.stdout)
				}
			default:
				cert, _ := strings.CutPrefix(c.trust(t, srv.CertPEM), "SSL_CERT_FILE=")
				env := map[string]string{"PRISM_API_KEY": e2eKey, "PRISM_BASE_URL": srv.URL, "GODEBUG": "http2debug=2", "SSL_CERT_FILE": cert}
				if mode == "cli" {
					r = c.cli(t, env, "gen_h2_1")
				} else {
					r = c.runStep(t, env, "gen_h2_1")
				}
			}
			if r.code != 0 {
				t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			if n := strings.Count(r.stdout+r.stderr, e2eKey[len("prism_sk_"):]); n != 0 && !(mode != "cli" && n == 1 && strings.Contains(r.stdout+r.stderr, "::add-mask::"+e2eKey+"\n")) {
				t.Errorf("the key shows %d time(s) beyond its mask:\n%s%s", n, r.stdout, r.stderr)
			}
		})
	}
}

// TestFlagErrorsPrintNothingRaw: an unknown flag or a bad value is
// reported by prism-wait, scrubbed; the flag package's own message, which
// quotes the argument as given, is not printed.
func TestFlagErrorsPrintNothingRaw(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	const material = "flagKEY0123456789"
	for _, tc := range []struct {
		args []string
		hint string // what to do
	}{
		{[]string{"--##[error]x"}, "--help"},
		{[]string{"--version=prism_sk_" + material}, "give it alone, as --version"},
		{[]string{"gen_a", "--::error::x"}, "--help"},
	} {
		args := tc.args
		for _, github := range []string{"cli", "run step"} {
			t.Run(strings.Join(args, " ")+" "+github, func(t *testing.T) {
				t.Parallel()
				c := newContainer(t)
				env := map[string]string{"PRISM_API_KEY": e2eKey}
				var r run
				if github == "run step" {
					r = c.runStep(t, env, args...)
				} else {
					r = c.cli(t, env, args...)
				}
				if r.code != 2 || !strings.Contains(r.stderr, "Invalid input") || !strings.Contains(r.stderr, tc.hint) {
					t.Errorf("exit %d, want 2 and an error saying %q:\n%s%s", r.code, tc.hint, r.stdout, r.stderr)
				}
				if strings.Contains(r.stdout+r.stderr, "##[") || strings.Contains(r.stdout+r.stderr, material) {
					t.Errorf("the argument was printed raw:\n%s%s", r.stdout, r.stderr)
				}
				if strings.Contains(r.stderr, "Usage:") {
					t.Errorf("the usage was printed for an error:\n%s", r.stderr)
				}
			})
		}
	}
}

// runStep runs the binary as the CLI in a workflow's run: step:
// GITHUB_ACTIONS=true and file commands, but no INPUT_*, so flags and
// PRISM_* are read, the log with its workflow commands goes to stderr and
// the results JSON to stdout. The runner reads both streams alike; the
// key's mask must be the first line of the log's stream, so stderr is read
// with the rules of the action's log (its stdout).
func (c *container) runStep(t testing.TB, env map[string]string, args ...string) run {
	t.Helper()
	list := []string{"HOME=" + c.path("/github/home"), "GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=" + c.path("/github/workspace"),
		"GITHUB_OUTPUT=" + c.path("/github/file_commands/set_output_e2e"), "GITHUB_STEP_SUMMARY=" + c.path("/github/file_commands/step_summary_e2e")}
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	p := c.start(t, list, args...)
	err := p.cmd.Wait()
	r := run{stdout: p.stdout.String(), stderr: p.stderr.String(), took: time.Since(p.started), code: p.cmd.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	for _, problem := range append(commandProblems("stdout", r.stderr, keyOf(list)), commandProblems("stderr", r.stdout, keyOf(list))...) {
		t.Errorf("the runner would read a command the CLI did not mean to send (stderr read as the log): %s", problem)
	}
	raw := c.rawOutputs()
	if r.outputs, err = report.ParseOutputs(raw); err != nil {
		t.Fatalf("GITHUB_OUTPUT: %v\n%s", err, raw)
	}
	sum, _ := os.ReadFile(filepath.Join(c.root, "github/file_commands/step_summary_e2e"))
	r.summary = string(sum)
	return r
}

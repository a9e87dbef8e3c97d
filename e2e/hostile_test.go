package e2e

// The binary against a hostile or broken server. Nothing from the network may reach a workflow command, show the
// key (or a prefix of it) or a signature, bring control bytes, run on
// without bound, or write outside the workspace.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// hostileKey is the key of the hostile cases; hostileKeyPrefix is the part
// of it that must not show either, even cut short.
const (
	hostileKey       = "prism_sk_hostileKEY_9f8e7d6c5b4a3210"
	hostileKeyPrefix = "hostileKEY_9"
)

// genServer answers GET /api/generations/{id} through answer, which gets
// the ID, the Bearer key, how many times this ID was asked before, and
// the server's own base (for video URLs on it), and returns an HTTP
// status and a JSON body. /videos/ is served by video, when set.
func genServer(t testing.TB, answer func(id, key string, n int, self string) (int, any), video http.HandlerFunc) string {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/videos/") && video != nil {
			video(w, r)
			return
		}
		id, ok := strings.CutPrefix(r.URL.Path, "/api/generations/")
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		n := seen[id]
		seen[id]++
		mu.Unlock()
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		code, body := answer(id, key, n, "http://"+r.Host)
		if code == http.StatusFound {
			w.Header().Set("Location", body.(string))
			w.WriteHeader(code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api"
}

// everything is all a run wrote where a person or a later step reads it,
// except the one ::add-mask:: line, which must carry the key.
func everything(c *container, r run) map[string]string {
	stdout := r.stdout
	if first, rest, _ := strings.Cut(stdout, "\n"); strings.HasPrefix(first, "::add-mask::") {
		stdout = rest
	}
	return map[string]string{"stdout": stdout, "stderr": r.stderr, "summary": r.summary, "GITHUB_OUTPUT": c.rawOutputs()}
}

// nowhere fails t when any of s shows in anything the run wrote.
func nowhere(t *testing.T, c *container, r run, s ...string) {
	t.Helper()
	for where, text := range everything(c, r) {
		for _, bad := range s {
			if i := strings.Index(text, bad); i >= 0 {
				t.Errorf("%q shows in %s: …%q…", bad, where, text[max(i-80, 0):min(i+len(bad)+80, len(text))])
			}
		}
	}
}

const legacyError = "render failed ##[set-output name=injected;]x ##[error]fake"

func TestHostileAnswersShowNoCommandSecretOrControlByte(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	// The timeout is long for cases that end on their own, so a loaded machine
	// cannot turn their verdict into exit 3; cases that end at it set a short one.
	fast := func(with map[string]string) map[string]string {
		base := map[string]string{"api_key": hostileKey, "poll_interval": "20ms", "max_interval": "100ms", "timeout": "1m"}
		for k, v := range with {
			base[k] = v
		}
		return base
	}
	// A key placed where a 2 KiB or 4 KiB clip would cut through it.
	keyAtEdges := func(key string) string {
		var b strings.Builder
		b.WriteString("render failed for " + key + " ")
		for _, at := range []int{1015, 2040, 4090} {
			b.WriteString(strings.Repeat("x", at-b.Len()))
			b.WriteString(key)
		}
		return b.String()
	}
	echoKey := func(id, key string, n int, self string) (int, any) {
		switch id {
		case "gen_k404":
			return 404, map[string]string{"error": "not_found", "message": "Generation not found for key " + key + " (" + key[:len(key)-3] + ")"}
		case "gen_k503":
			return 503, map[string]string{"error": "server_error", "message": "overloaded, key " + key}
		case "gen_kdone":
			return 200, map[string]any{"id": id, "status": "completed", "template_id": key, "created_at": key, "completed_at": key,
				"video_url": self + "/videos/x.mp4?X-Amz-Signature=abc", "share_url": "https://prismvideos.com/s/share_1", "error": key}
		case "gen_kurl":
			return 200, map[string]any{"id": id, "status": "completed", "video_url": self + "/videos/x.mp4?k=" + key, "share_url": "https://prismvideos.com/s/" + key}
		case "gen_kunknown":
			return 200, map[string]any{"id": key, "status": "waiting-" + key, "template_id": key, "created_at": key}
		}
		return 200, map[string]any{"id": id, "status": "failed", "error": keyAtEdges(key), "template_id": key, "created_at": key,
			"share_url": "https://prismvideos.com/s/share_" + key[len(key)-4:]}
	}
	escNul := "a\x1b[2J\x1b]0;pwned\x07b\x00c\u009b31m\u2028d"
	for _, tc := range []struct {
		name    string
		answer  func(id, key string, n int, self string) (int, any)
		video   http.HandlerFunc
		with    map[string]string // action inputs; nil runs the CLI
		cli     []string          // CLI arguments
		code    int
		nowhere []string
		check   func(t *testing.T, c *container, r run)
	}{
		{
			name: "legacy syntax in every field",
			answer: func(id, key string, n int, self string) (int, any) {
				switch id {
				case "gen_fail":
					return 200, map[string]any{"id": id, "status": "failed", "error": legacyError, "template_id": "##[set-output name=template_id;]t ##[error]t",
						"created_at": "##[warning]2024", "share_url": "https://prismvideos.com/s/##[set-output name=x;]y"}
				case "gen_unknown":
					return 200, map[string]any{"id": id, "status": "##[stop-commands]tok12345", "template_id": "##[add-mask]tpl", "created_at": "##[debug]c"}
				case "gen_done":
					return 200, map[string]any{"id": id, "status": "completed", "video_url": self + "/videos/gen_done.mp4?X-Amz-Signature=abc",
						"share_url": "https://prismvideos.com/s/##[error]x", "template_id": "##[add-mask]tpl", "created_at": "##[debug]c", "completed_at": "##[notice]d"}
				case "gen_503":
					return 503, map[string]string{"error": "server_error", "message": "busy ##[stop-commands]tok99 ##[error]x"}
				}
				return 404, map[string]string{"error": "not_found ##[error]code", "message": "Generation not found ##[set-output name=injected;]x ##[error]fake"}
			},
			// A refusal stops the other waits at once: it has a case of its own.
			with: fast(map[string]string{"generation_id": "gen_fail gen_unknown gen_done gen_503", "timeout": "10s"}),
			code: 1, nowhere: []string{"##["},
			check: func(t *testing.T, c *container, r run) {
				if r.outputs["status"] != "failed" || r.outputs["injected"] != "" || r.outputs["x"] != "" {
					t.Errorf("outputs %q", r.outputs)
				}
				if len(r.outputs) != len(readActionYML(t).Outputs) {
					t.Errorf("outputs were injected: %d outputs, %d declared", len(r.outputs), len(readActionYML(t).Outputs))
				}
				if !strings.Contains(r.stdout, "render failed") || !strings.Contains(r.stdout, "stop-commands") {
					t.Errorf("the API's text should still be shown, neutralised:\n%s", r.stdout)
				}
			},
		},
		{
			name: "legacy syntax in a refusal's message",
			answer: func(id, key string, n int, self string) (int, any) {
				return 404, map[string]string{"error": "not_found ##[error]code", "message": "Generation not found ##[set-output name=injected;]x ##[error]fake"}
			},
			with: fast(map[string]string{"generation_id": "gen_refused"}),
			code: 4, nowhere: []string{"##["},
			check: func(t *testing.T, c *container, r run) {
				if len(r.outputs) != len(readActionYML(t).Outputs) || r.outputs["injected"] != "" {
					t.Errorf("outputs were injected: %q", r.outputs)
				}
			},
		},
		{
			name: "the key echoed in every field and message", answer: echoKey,
			with: fast(map[string]string{"generation_id": "gen_kfail gen_kunknown gen_kdone gen_k503", "timeout": "10s"}),
			code: 1, nowhere: []string{hostileKey, hostileKeyPrefix},
		},
		{
			// A URL carrying the key is not usable: no video, no success.
			name: "the key echoed in video_url and share_url", answer: echoKey,
			with: fast(map[string]string{"generation_id": "gen_kurl", "timeout": "5s"}),
			code: 3, nowhere: []string{hostileKey, hostileKeyPrefix},
			check: func(t *testing.T, c *container, r run) {
				if r.outputs["status"] != "completed_without_video" {
					t.Errorf("status %q: the answer was never read", r.outputs["status"])
				}
			},
		},
		{
			name: "the key echoed in video_url and share_url, CLI", answer: echoKey,
			cli:  []string{"--timeout", "5s", "--poll-interval", "20ms", "gen_kurl"},
			code: 3, nowhere: []string{hostileKey, hostileKeyPrefix},
			check: func(t *testing.T, c *container, r run) {
				if !strings.Contains(r.stdout, `"status":"completed_without_video"`) {
					t.Errorf("the answer was never read:\n%s", r.stdout)
				}
			},
		},
		{
			name: "the key echoed in a refusal", answer: echoKey,
			with: fast(map[string]string{"generation_id": "gen_k404"}),
			code: 4, nowhere: []string{hostileKey, hostileKeyPrefix},
		},
		{
			name: "the key echoed in a refusal, CLI", answer: echoKey,
			cli:  []string{"--timeout", "20s", "--poll-interval", "20ms", "gen_k404"},
			code: 4, nowhere: []string{hostileKey, hostileKeyPrefix},
		},
		{
			name: "the key echoed, CLI", answer: echoKey,
			cli:  []string{"--timeout", "10s", "--poll-interval", "20ms", "--max-interval", "100ms", "gen_kfail", "gen_kunknown", "gen_kdone", "gen_k503"},
			code: 1, nowhere: []string{hostileKey, hostileKeyPrefix},
			check: func(t *testing.T, c *container, r run) {
				var results []map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || len(results) != 4 {
					t.Errorf("stdout is not the results JSON (%v):\n%s", err, r.stdout)
				}
				if !strings.Contains(r.stderr, "gen_kfail") {
					t.Errorf("the log is not on stderr:\n%s", r.stderr)
				}
			},
		},
		{
			name: "megabyte errors for 100 IDs",
			answer: func(id, key string, n int, self string) (int, any) {
				return 200, map[string]any{"id": id, "status": "failed", "error": strings.Repeat("é", 1000000/2-8) + " ##[error]end"}
			},
			with: fast(map[string]string{"generation_id": hundredIDs(), "timeout": "2m"}),
			code: 1, nowhere: []string{"##["},
			check: func(t *testing.T, c *container, r run) {
				raw := c.rawOutputs()
				if len(raw) >= 800<<10 {
					t.Errorf("$GITHUB_OUTPUT is %d bytes, want well under GitHub's 1 MB per job", len(raw))
				}
				if !utf8.ValidString(raw) || !utf8.ValidString(r.stdout) || !utf8.ValidString(r.summary) {
					t.Error("a UTF-8 character was cut in half")
				}
				for i, line := range strings.Split(r.stdout, "\n") {
					if len(line) > 8<<10 {
						t.Errorf("stdout line %d is %d bytes", i+1, len(line))
					}
				}
				if len(r.summary) > 1<<20 {
					t.Errorf("summary is %d bytes", len(r.summary))
				}
				errs := strings.Split(r.outputs["error"], "\n")
				if len(errs) != 100 || !strings.HasSuffix(errs[0], untrusted.CutMarker) || !strings.Contains(r.stdout, untrusted.CutMarker) {
					t.Errorf("%d error lines; first %.100q…; want each cut with %q", len(errs), errs[0], untrusted.CutMarker)
				}
				if r.outputs["status"] != "failed" {
					t.Errorf("status %q", r.outputs["status"])
				}
			},
		},
		{
			name: "ESC and NUL in API text",
			answer: func(id, key string, n int, self string) (int, any) {
				if id == "gen_escu" {
					return 200, map[string]any{"id": id, "status": "gen\x1b[1merating\x00", "template_id": escNul, "created_at": escNul}
				}
				return 200, map[string]any{"id": id, "status": "failed", "error": escNul, "template_id": escNul, "created_at": escNul, "share_url": "https://x/" + escNul}
			},
			with: fast(map[string]string{"generation_id": "gen_esc gen_escu", "timeout": "10s"}),
			code: 1, nowhere: []string{"\x1b", "\x00", "\x07", "\u009b", "\u2028"},
		},
		{
			name: "ESC and NUL in API text, CLI",
			answer: func(id, key string, n int, self string) (int, any) {
				if n == 0 {
					return 503, map[string]string{"error": "server_error\x1b[0m", "message": escNul}
				}
				return 200, map[string]any{"id": id, "status": "failed", "error": escNul, "template_id": escNul, "created_at": escNul}
			},
			cli:  []string{"--timeout", "20s", "--poll-interval", "20ms", "--max-interval", "100ms", "gen_esc"},
			code: 1, nowhere: []string{"\x1b", "\x00", "\x07", "\u009b", "\u2028"},
		},
		{
			name: "API redirect with an unparsable Location",
			answer: func(id, key string, n int, self string) (int, any) {
				return http.StatusFound, "http://prism videos.com/api/generations/" + id + "?X-Amz-Signature=SECRET&X-Amz-Credential=SECRET"
			},
			with: fast(map[string]string{"generation_id": "gen_redirect"}),
			code: 4, nowhere: []string{"SECRET"},
			check: func(t *testing.T, c *container, r run) {
				if !strings.Contains(r.stdout, "::error title=Prism API refused the request::") || !strings.Contains(r.stdout, "base_url") {
					t.Errorf("the error does not name base_url:\n%s", r.stdout)
				}
			},
		},
		{
			name: "storage redirect with an unparsable Location",
			answer: func(id, key string, n int, self string) (int, any) {
				return 200, map[string]any{"id": id, "status": "completed", "video_url": self + "/videos/" + id + ".mp4?X-Amz-Signature=abc"}
			},
			video: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "http://s3 bucket/v.mp4?X-Amz-Signature=SECRET&X-Amz-Security-Token=SECRET")
				w.WriteHeader(http.StatusFound)
			},
			with: fast(map[string]string{"generation_id": "gen_storage", "download_dir": "videos", "timeout": "1m"}),
			code: 5, nowhere: []string{"SECRET"},
			check: func(t *testing.T, c *container, r run) {
				if r.outputs["video_path"] != "" {
					t.Errorf("video_path %q claims a file", r.outputs["video_path"])
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := genServer(t, tc.answer, tc.video)
			c := newContainer(t)
			var r run
			if tc.with != nil {
				tc.with["base_url"] = base
				r = c.act(t, tc.with)
				if r.stderr != "" {
					t.Errorf("stderr in the action: %.2000s", r.stderr)
				}
				if !strings.HasPrefix(r.stdout, "::add-mask::"+hostileKey+"\n") {
					t.Errorf("the key is not masked first:\n%.500s", r.stdout)
				}
			} else {
				r = c.cli(t, map[string]string{"PRISM_API_KEY": hostileKey, "PRISM_BASE_URL": base}, tc.cli...)
				if strings.Contains(r.stdout+r.stderr, "::") {
					t.Errorf("workflow commands outside GitHub Actions:\n%s%s", r.stdout, r.stderr)
				}
			}
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d\n%.3000s%.3000s", r.code, tc.code, r.stdout, r.stderr)
			}
			nowhere(t, c, r, tc.nowhere...)
			if tc.check != nil {
				tc.check(t, c, r)
			}
		})
	}
}

func hundredIDs() string {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("gen_%03d", i)
	}
	return strings.Join(ids, "\n")
}

// TestDownloadStaysInTheWorkspaceWhenASymlinkIsSwappedIn plants a symlink
// at download_dir while the generation is still generating, after the
// start-up check of the directory: the video must not land outside the
// workspace.
func TestDownloadStaysInTheWorkspaceWhenASymlinkIsSwappedIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	sc, err := prismsim.LoadScenario(repoPath(t, hostileScenarios))
	if err != nil {
		t.Fatal(err)
	}
	// gen_swap reads "generating", whatever the clock says, until the
	// symlink is in place; then the simulator answers it (completed).
	var reads atomic.Int32
	planted := make(chan struct{})
	sim := serveSim(t, sc, func(sim http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-planted:
			default:
				if r.URL.Path == "/api/generations/gen_swap" {
					reads.Add(1)
					io.WriteString(w, `{"id":"gen_swap","status":"generating"}`)
					return
				}
			}
			sim.ServeHTTP(w, r)
		})
	})
	c := newContainer(t)
	outside := filepath.Join(c.root, "outside")
	videos := filepath.Join(c.workspace, "videos")
	for _, d := range []string{outside, videos} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := c.start(t, c.env(t, map[string]string{"generation_id": "gen_swap", "api_key": e2eKey, "base_url": sim.base,
		"download_dir": "videos", "poll_interval": "20ms", "timeout": "20s"}))
	for i := 0; reads.Load() == 0; i++ {
		if i > 6000 {
			p.signal(syscall.SIGKILL)
			t.Fatal("no status read within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.Remove(videos); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(c.path("/outside"), videos); err != nil {
		t.Fatal(err)
	}
	close(planted)
	r := p.wait(t)
	if r.code != 5 {
		t.Errorf("exit code %d, want 5\n%s%s", r.code, r.stdout, r.stderr)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written outside the workspace through the symlink: %v", entries)
	}
	if r.outputs["video_path"] != "" || r.outputs["video_sha256"] != "" || strings.Contains(r.outputs["results"], `"video_path":"`) {
		t.Errorf("outputs claim a file: video_path %q, results %s", r.outputs["video_path"], r.outputs["results"])
	}
	if !strings.Contains(r.stdout, "::error title=Download failed::") {
		t.Errorf("no download error:\n%s", r.stdout)
	}
}

// TestCompletedWithAnUnusableVideoURLIsNoSuccess: "completed" with a
// video_url that is no URL is no success, whatever it holds: the step waits
// on, and ends at the timeout.
func TestCompletedWithAnUnusableVideoURLIsNoSuccess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for _, id := range []string{"gen_blank_url", "gen_js_url"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, hostileScenarios)
			c := newContainer(t)
			r := c.act(t, map[string]string{"generation_id": id, "api_key": e2eKey, "base_url": sim.base,
				"poll_interval": "20ms", "timeout": "5s", "download_dir": "videos"})
			if r.code != 3 || r.outputs["status"] != "completed_without_video" || r.outputs["video_url"] != "" {
				t.Errorf("exit %d, status %q, video_url %q; want 3, completed_without_video, none\n%s", r.code, r.outputs["status"], r.outputs["video_url"], r.stdout)
			}
			if strings.Contains(r.stdout+r.summary+c.rawOutputs(), "javascript:") {
				t.Error("the javascript: URL was handed on")
			}
			if entries, _ := os.ReadDir(filepath.Join(c.workspace, "videos")); len(entries) != 0 {
				t.Errorf("downloaded something: %v", entries)
			}
		})
	}
}

// TestInvalidBaseURLNeverShowsItsPassword: a base_url refused as input
// must not show a password from its userinfo, whatever makes it invalid.
func TestInvalidBaseURLNeverShowsItsPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for _, base := range []string{
		"https://user:hunter2SECRET@prism videos.com/api",
		"http://user:hunter2SECRET@example.com/api",
		"https://user:hunter2SECRET@prismvideos.com:99999/api",
		"ftp://user:hunter2SECRET@prismvideos.com/api",
	} {
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			c := newContainer(t)
			r := c.act(t, map[string]string{"generation_id": "gen_ok", "api_key": e2eKey, "base_url": base})
			if r.code != 2 || !strings.Contains(r.stdout, "::error title=Invalid input::base_url") {
				t.Errorf("exit %d, want 2 and an error naming base_url:\n%s%s", r.code, r.stdout, r.stderr)
			}
			nowhere(t, c, r, "hunter2SECRET", "hunter2")
		})
	}
}

// TestHostileMegabytesStayUnder64MiB: 100 IDs answered at once with
// bodies near the 1 MiB limit, whatever they hold, peak at most 64 MiB of
// resident memory (its VmHWM): bodies beyond the usual size
// are read and decoded a few at a time.
func TestHostileMegabytesStayUnder64MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for _, tc := range hostileBodies() {
		if tc.name != "strings" && tc.name != "fields" {
			continue // the benchmark measures the others
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if rss, _ := hostileRun(t, hostileServer(t, tc.body), t.TempDir()); rss > 64 {
				t.Errorf("peak RSS %.1f MiB, want at most 64", rss)
			}
		})
	}
}

package e2e

// The one harness of the binary's tests. It builds the binary once per
// test process from the module root, starts the simulator, runs the binary
// as GitHub's runner runs a Docker action (docs/runner.md: an INPUT_* for
// every input declared in action.yml, with the workflow's value, else its
// default, else ""; the file commands in /github/file_commands; the
// workspace at /github/workspace; the binary as PID 1 in an otherwise empty
// root), and reads every line it prints on stdout and stderr as the runner
// reads it, so that any workflow command the action did not mean to send
// fails the test.
//
// How the binary is started is a launcher: unshare (PID 1 in an empty
// root) where it is permitted, else the binary run directly, and the tests
// say so. A launcher of `docker run` fits the same three methods, with the
// simulator on an address the container reaches (startSimOn).

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/report"
)

// moduleRoot is the directory of the module's go.mod: where the binary is
// built from, and where action.yml and testdata/ are.
var moduleRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
})

// repoPath is the path of rel, a slash-separated path from the module root.
func repoPath(t testing.TB, rel string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// actionYML is the part of action.yml the runner uses.
type actionYML struct {
	Inputs map[string]struct {
		Default  *string `yaml:"default"`
		Required bool    `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Image string `yaml:"image"`
	} `yaml:"runs"`
}

func readActionYML(t testing.TB) actionYML {
	t.Helper()
	raw, err := os.ReadFile(repoPath(t, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionYML
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a
}

// inputEnv is the INPUT_* variables as the runner sets them: one for every
// input a declares, with its value in with, else its default, else "". An
// input in with that a does not declare is an error of the test.
func (a actionYML) inputEnv(with map[string]string) (map[string]string, error) {
	for name := range with {
		if _, ok := a.Inputs[name]; !ok {
			return nil, fmt.Errorf("the test uses input %q, which action.yml does not declare", name)
		}
	}
	env := map[string]string{}
	for name, in := range a.Inputs {
		v := ""
		if in.Default != nil {
			v = *in.Default
		}
		if w, ok := with[name]; ok {
			v = w
		}
		env["INPUT_"+strings.ToUpper(strings.ReplaceAll(name, " ", "_"))] = v
	}
	return env, nil
}

// buildDir holds the binaries built once per test process, and goes with
// it.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "prism-wait-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the binary once per test process, as the Dockerfile does:
// static and stripped, with the version stamped.
func build(t testing.TB) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var buildOnce = sync.OnceValues(func() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(buildDir, "prism-wait")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v0.0.0-e2e", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// A launcher starts the binary of a container as a runner would.
type launcher interface {
	// command is the command that runs c's binary, /prism-wait in the
	// container, with env and args, in the workspace.
	command(c *container, env, args []string) *exec.Cmd
	// path is where the binary sees p, an absolute path in the container.
	path(c *container, p string) string
	// signal sends sig to the action's process (PID 1 in the container)
	// of cmd, started from command.
	signal(c *container, cmd *exec.Cmd, sig syscall.Signal) error
}

// unshared runs the binary as PID 1 in the container's root, which holds
// nothing else: unshare --pid --fork --root, which needs root.
type unshared struct{}

func (unshared) command(c *container, env, args []string) *exec.Cmd {
	cmd := exec.Command("unshare", append([]string{"--pid", "--fork", "--root=" + c.root, "--wd=/github/workspace", "/prism-wait"}, args...)...)
	cmd.Env = env
	return cmd
}

func (unshared) path(c *container, p string) string { return p }

// signal signals unshare's child, the binary, not unshare itself.
func (unshared) signal(c *container, cmd *exec.Cmd, sig syscall.Signal) error {
	for range 6000 { // up to 30s on a loaded machine
		raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if f := strings.Fields(string(raw)); len(f) > 0 {
			pid, err := strconv.Atoi(f[0])
			if err != nil {
				return err
			}
			return syscall.Kill(pid, sig)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("unshare started no child")
}

// direct runs the binary as a child of the test, where unshare is not
// permitted: the container's paths are under its root on the host.
type direct struct{}

func (direct) command(c *container, env, args []string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.root, "prism-wait"), args...)
	cmd.Dir = c.workspace
	cmd.Env = env
	return cmd
}

func (direct) path(c *container, p string) string { return filepath.Join(c.root, p) }

func (direct) signal(c *container, cmd *exec.Cmd, sig syscall.Signal) error {
	return cmd.Process.Signal(sig)
}

// defaultLauncher is unshared where unshare is permitted, else direct; note
// says why when it is not.
var defaultLauncher = sync.OnceValues(func() (l launcher, note string) {
	bin, err := buildOnce()
	if err != nil {
		return direct{}, "" // build reports the error
	}
	root, err := os.MkdirTemp("", "prism-wait-probe-")
	if err != nil {
		return direct{}, fmt.Sprintf("no directory for the unshare probe (%v); running the binary directly, not as PID 1 in an empty root", err)
	}
	defer os.RemoveAll(root)
	if err := copyBinary(bin, filepath.Join(root, "prism-wait")); err != nil {
		return direct{}, fmt.Sprintf("no binary for the unshare probe (%v); running the binary directly, not as PID 1 in an empty root", err)
	}
	out, err := exec.Command("unshare", "--pid", "--fork", "--root="+root, "/prism-wait", "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "prism-wait v0.0.0-e2e") {
		return direct{}, fmt.Sprintf("unshare is not permitted here (%v: %s); running the binary directly, not as PID 1 in an empty root", err, bytes.TrimSpace(out))
	}
	return unshared{}, ""
})

// copyBinary puts the built binary at to: a hard link where it can, since
// a file this process has just written may still be open for writing in a
// child that a parallel test forked meanwhile, and exec would then fail
// with "text file busy"; else a copy.
func copyBinary(from, to string) error {
	if os.Link(from, to) == nil {
		return nil
	}
	raw, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, raw, 0o755)
}

// container is one run's container: a host directory standing for its
// root, holding the binary at /prism-wait and the runner's mounts, and the
// launcher that runs the binary in it.
type container struct {
	root      string // host directory standing for the container's /
	workspace string // host path of /github/workspace
	launcher  launcher
}

// newContainer is a container run by the default launcher.
func newContainer(t testing.TB) *container {
	t.Helper()
	build(t)
	l, note := defaultLauncher()
	if note != "" {
		t.Log(note)
	}
	return newContainerWith(t, l)
}

// newContainerWith is a container run by l.
func newContainerWith(t testing.TB, l launcher) *container {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"github/workspace", "github/file_commands", "github/home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyBinary(build(t), filepath.Join(root, "prism-wait")); err != nil {
		t.Fatal(err)
	}
	return &container{root: root, workspace: filepath.Join(root, "github", "workspace"), launcher: l}
}

// path is where the binary sees p, an absolute path in the container.
func (c *container) path(p string) string { return c.launcher.path(c, p) }

// env builds the action's environment as the runner does: the runner's
// own variables and an INPUT_* for every input declared in action.yml.
func (c *container) env(t testing.TB, with map[string]string) []string {
	t.Helper()
	inputs, err := readActionYML(t).inputEnv(with)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"GITHUB_ACTIONS=true", "CI=true", "HOME=" + c.path("/github/home"),
		"GITHUB_WORKSPACE=" + c.path("/github/workspace"),
		"GITHUB_OUTPUT=" + c.path("/github/file_commands/set_output_e2e"),
		"GITHUB_STEP_SUMMARY=" + c.path("/github/file_commands/step_summary_e2e"),
		// What the runner tells every Docker action about its run; each
		// container is a run of its own, so that the re-run guard's
		// entries of one test never meet another's.
		fmt.Sprintf("GITHUB_RUN_ID=%d%04d", os.Getpid(), runs.Add(1)), "GITHUB_RUN_ATTEMPT=1",
		"GITHUB_JOB=e2e", "GITHUB_ACTION=prism-wait", "ACTIONS_RUNTIME_TOKEN=runtime-token-e2e",
	}
	// The simulator serves the Actions cache service at its root, as
	// ACTIONS_RESULTS_URL does on GitHub.
	if base, ok := strings.CutSuffix(with["base_url"], "/api"); ok {
		env = append(env, "ACTIONS_RESULTS_URL="+base+"/")
	}
	for k, v := range inputs {
		env = append(env, k+"="+v)
	}
	return env
}

// runs numbers the containers of this test process.
var runs atomic.Int64

// process is the binary, started in a container.
type process struct {
	c       *container
	cmd     *exec.Cmd
	env     []string
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	started time.Time
}

// start starts the binary with env and args.
func (c *container) start(t testing.TB, env []string, args ...string) *process {
	t.Helper()
	p := &process{c: c, cmd: c.launcher.command(c, env, args), env: env}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// signal sends sig to the action's process.
func (p *process) signal(sig syscall.Signal) error { return p.c.launcher.signal(p.c, p.cmd, sig) }

// run is a finished run.
type run struct {
	code    int
	stdout  string
	stderr  string
	outputs map[string]string
	summary string
	took    time.Duration // from the start to the end of the process
}

// hangLimit is far longer than any run of the tests takes.
const hangLimit = 3 * time.Minute

// wait waits for the process to end, reads every line it printed as the
// runner does, and gathers its outputs and summary.
func (p *process) wait(t testing.TB) run {
	t.Helper()
	// A binary that hangs is killed, and the test fails, instead of the
	// whole test run stalling until go test's own timeout.
	var hung atomic.Bool
	watchdog := time.AfterFunc(hangLimit, func() { hung.Store(true); p.signal(syscall.SIGKILL); p.cmd.Process.Kill() })
	err := p.cmd.Wait()
	watchdog.Stop()
	if hung.Load() {
		t.Errorf("the binary still ran after %s: killed", hangLimit)
	}
	r := run{stdout: p.stdout.String(), stderr: p.stderr.String(), took: time.Since(p.started)}
	checkCommands(t, r.stdout, r.stderr, keyOf(p.env))
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	raw := p.c.rawOutputs()
	if r.outputs, err = report.ParseOutputs(raw); err != nil {
		t.Fatalf("GITHUB_OUTPUT: %v\n%s", err, raw)
	}
	sum, _ := os.ReadFile(filepath.Join(p.c.root, "github/file_commands/step_summary_e2e"))
	r.summary = string(sum)
	return r
}

// rawOutputs is the $GITHUB_OUTPUT file as written.
func (c *container) rawOutputs() string {
	raw, _ := os.ReadFile(filepath.Join(c.root, "github/file_commands/set_output_e2e"))
	return string(raw)
}

// keyOf is the API key a run was given, as the action's input or the
// CLI's PRISM_API_KEY; "" for none.
func keyOf(env []string) string {
	for _, name := range []string{"INPUT_API_KEY=", "PRISM_API_KEY="} {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, name); ok && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// act runs the action to its end with the inputs with.
func (c *container) act(t testing.TB, with map[string]string) run {
	t.Helper()
	return c.start(t, c.env(t, with)).wait(t)
}

// cli runs the binary as the plain CLI, outside GitHub Actions: flags and
// PRISM_*, the results JSON on stdout and the log on stderr.
func (c *container) cli(t testing.TB, env map[string]string, args ...string) run {
	t.Helper()
	list := []string{"HOME=" + c.path("/github/home")}
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return c.start(t, list, args...).wait(t)
}

// simulator is the Prism simulator, served on loopback; base is its API's
// base URL, as base_url takes it.
type simulator struct {
	*prismsim.Server
	base string
}

// startSim serves the scenario file at file, a path from the module root,
// on loopback, where the binary of the default launcher reaches it.
func startSim(t testing.TB, file string) simulator {
	t.Helper()
	return startSimOn(t, "127.0.0.1", file)
}

// startSimOn serves the scenario file at file on host, an address of this
// machine: the one where a binary with a network of its own (a container
// on a bridge) reaches it.
func startSimOn(t testing.TB, host, file string) simulator {
	t.Helper()
	sc, err := prismsim.LoadScenario(repoPath(t, file))
	if err != nil {
		t.Fatal(err)
	}
	return serveSimOn(t, host, sc, nil)
}

// serveSim serves sc on loopback until the test ends. front, when set,
// gets every request first, with the simulator to hand it on to.
func serveSim(t testing.TB, sc prismsim.Scenario, front func(sim http.Handler) http.Handler) simulator {
	t.Helper()
	return serveSimOn(t, "127.0.0.1", sc, front)
}

// serveSimOn is serveSim on host.
func serveSimOn(t testing.TB, host string, sc prismsim.Scenario, front func(sim http.Handler) http.Handler) simulator {
	t.Helper()
	s := prismsim.New(sc)
	var h http.Handler = s
	if front != nil {
		h = front(s)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(func() { s.Close(); srv.Close() })
	return simulator{s, srv.URL + "/api"}
}

// The scenario files the tests run against, from the module root.
const (
	e2eScenarios     = "testdata/scenarios/e2e.json"
	hostileScenarios = "testdata/scenarios/hostile.json"
)

const e2eKey = "prism_sk_e2e_0123456789abcdef"

// fast is the inputs of a quick run: the key, short cadences, and with.
func fast(with map[string]string) map[string]string {
	base := map[string]string{"api_key": e2eKey, "poll_interval": "20ms", "max_interval": "100ms"}
	for k, v := range with {
		base[k] = v
	}
	return base
}

// check is one assertion on a finished run.
type check func(t *testing.T, c *container, r run, sim simulator)

func outputsAre(want map[string]string) check {
	return func(t *testing.T, c *container, r run, sim simulator) {
		for name, v := range want {
			if r.outputs[name] != v {
				t.Errorf("output %s = %q, want %q", name, r.outputs[name], v)
			}
		}
	}
}

func logSays(s ...string) check {
	return func(t *testing.T, c *container, r run, sim simulator) {
		for _, want := range s {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("log lacks %q:\n%s", want, r.stdout)
			}
		}
	}
}

// The runner-faithful reader of workflow commands (docs/runner.md): the
// runner tries every stdout and stderr line of a Docker action; a line
// whose trimmed start is "::" is a command "::name key=val,key=val::message",
// and otherwise "##[name params]message" anywhere in the line is a legacy
// command. Every run's output passes through checkCommands; the soak's,
// which runs in-process, through commandProblems.

// wfCommand is one workflow command as the runner reads it.
type wfCommand struct {
	Name    string // lower-cased, as the runner compares names
	Props   map[string]string
	Message string
	Legacy  bool
}

// msgUnescaper and propUnescaper undo the command encoding of messages and properties.
var (
	msgUnescaper  = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
	propUnescaper = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
)

// parseCommands returns every command the runner could read from one
// line: the v2 command when the line is one, and every legacy "##[…]"
// anywhere in it (the runner takes the first; this parser is stricter and
// reports them all).
func parseCommands(line string) []wfCommand {
	var out []wfCommand
	if t := strings.TrimLeft(line, " \t\r\n\f\v"); strings.HasPrefix(t, "::") {
		if end := strings.Index(t[2:], "::"); end >= 0 {
			info, msg := t[2:2+end], t[2+end+2:]
			name, params, _ := strings.Cut(info, " ")
			c := wfCommand{Name: strings.ToLower(name), Props: map[string]string{}, Message: msgUnescaper.Replace(msg)}
			for _, kv := range strings.Split(params, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
					c.Props[k] = propUnescaper.Replace(v)
				}
			}
			out = append(out, c)
		}
	}
	for rest := line; ; {
		i := strings.Index(rest, "##[")
		if i < 0 {
			break
		}
		rest = rest[i+3:]
		rb := strings.IndexByte(rest, ']')
		if rb < 0 {
			break
		}
		info := rest[:rb]
		name, params, _ := strings.Cut(info, " ")
		c := wfCommand{Name: strings.ToLower(name), Props: map[string]string{}, Message: rest[rb+1:], Legacy: true}
		for _, kv := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				c.Props[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// knownTitles are the annotation titles the action's own code uses
// (internal/outcome, internal/report, internal/cli).
var knownTitles = []string{
	"Invalid input", "Prism API trouble", "Generation failed", "No verdict in time", "Download not finished",
	"Prism API refused the request", "Download failed", "Cancelled", "Stopped early",
	"Internal error", "Cannot write step outputs", "Submit outcome unknown",
	"Prism API refused the submission", "Submit did not finish", "Submit not accepted yet",
	"Timeout may be too short",
	"Prism API rate limit", "Cannot write the results", "Not waited for", "Unusable entries in the submit answer",
	"Re-run guard unavailable", "Re-run guard incomplete", "Earlier attempt may have paid",
	"Cannot write the step summary", "Not every ID in the outputs", "Nothing downloaded",
}

// commandProblems lists every command in one stream's text that the
// action did not mean to send. key is the API key in use ("" for none):
// the only add-mask allowed is the first stdout line, masking it.
func commandProblems(stream, text, key string) []string {
	var bad []string
	for i, line := range strings.Split(text, "\n") {
		for _, c := range parseCommands(line) {
			ok := false
			switch {
			case c.Legacy:
			case c.Name == "add-mask":
				ok = stream == "stdout" && i == 0 && key != "" && c.Message == key && len(c.Props) == 0
			case c.Name == "debug":
				ok = len(c.Props) == 0
			case c.Name == "error" || c.Name == "warning" || c.Name == "notice":
				_, hasTitle := c.Props["title"]
				ok = hasTitle && len(c.Props) == 1 && slices.Contains(knownTitles, c.Props["title"])
			}
			if !ok {
				bad = append(bad, stream+" line "+strconv.Itoa(i+1)+": "+clipForTest(line, 300))
			}
		}
	}
	return bad
}

// checkCommands fails t on any command in stdout or stderr that the action
// did not mean to send.
func checkCommands(t testing.TB, stdout, stderr, key string) {
	t.Helper()
	for _, p := range append(commandProblems("stdout", stdout, key), commandProblems("stderr", stderr, key)...) {
		t.Errorf("the runner would read a command the action did not mean to send: %s", p)
	}
}

func clipForTest(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// TestRunnerReaderFindsEveryCommandNotMeant: the reader accepts exactly the
// commands the action means to send, and reads their parts as the runner does.
func TestRunnerReaderFindsEveryCommandNotMeant(t *testing.T) {
	t.Parallel()
	const key = "prism_sk_parser_0123456789"
	for _, tc := range []struct {
		name, stream, text string
		bad                int
	}{
		{"our annotation", "stdout", "::error title=No verdict in time::gen_x: timeout reached", 0},
		{"our warning with escaped title", "stdout", "::warning title=Prism API trouble::gen_x: HTTP 503%0Aretrying", 0},
		{"our debug", "stdout", "::debug::gen_x: status \"generating\"", 0},
		{"plain line", "stdout", "gen_x: generating", 0},
		{"mask first", "stdout", "::add-mask::" + key + "\ngen_x: generating", 0},
		{"mask later", "stdout", "gen_x: generating\n::add-mask::" + key, 1},
		{"mask of another value", "stdout", "::add-mask::prism_sk_other", 1},
		{"mask on stderr", "stderr", "::add-mask::" + key, 1},
		{"legacy mid-line", "stdout", "x ##[set-output name=a;]b", 1},
		{"legacy error mid-line", "stdout", "gen_x failed: render failed ##[error]fake", 1},
		{"two legacy commands", "stdout", "a ##[set-output name=a;]b ##[error]c", 2},
		{"legacy at line start", "stderr", "##[stop-commands]tok12345", 1},
		{"stop-commands after spaces", "stdout", "  ::stop-commands::tok", 1},
		{"set-output", "stderr", "::set-output name=status::completed", 1},
		{"unknown title", "stdout", "::error title=Gotcha::x", 1},
		{"no title", "stdout", "::error::x", 1},
		{"extra property", "stdout", "::error title=Generation failed,file=x.go::x", 1},
		{"neutralized legacy", "stdout", "gen_x failed: render failed ## [error]fake", 0},
		{"neutralized v2", "stdout", "  : :stop-commands::tok", 0},
		{"v2 without closing", "stdout", "::not a command", 0},
		{"legacy without bracket end", "stdout", "a ##[error b", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := commandProblems(tc.stream, tc.text, key); len(got) != tc.bad {
				t.Errorf("%d problems, want %d: %q", len(got), tc.bad, got)
			}
		})
	}
	// The parts, as the runner reads them.
	c := parseCommands("  ::error title=No verdict in time%2C really::gen%0Ax")
	if len(c) != 1 || c[0].Name != "error" || c[0].Props["title"] != "No verdict in time, really" || c[0].Message != "gen\nx" {
		t.Errorf("parsed %+v", c)
	}
	c = parseCommands("x ##[set-output name=a;]b")
	if len(c) != 1 || !c[0].Legacy || c[0].Name != "set-output" || c[0].Props["name"] != "a" || c[0].Message != "b" {
		t.Errorf("parsed %+v", c)
	}
}

// checkActionRun holds what every run of the action with e2eKey must show:
// the exit code wanted, nothing on stderr, the key masked first and never
// shown again, and every output action.yml declares written.
func checkActionRun(t *testing.T, r run, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d\n%s%s", r.code, code, r.stdout, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "::add-mask::"+e2eKey+"\n") || strings.Count(r.stdout, e2eKey) != 1 {
		t.Errorf("the key must be masked first and never shown again:\n%s", r.stdout)
	}
	for name := range readActionYML(t).Outputs {
		if _, ok := r.outputs[name]; !ok {
			t.Errorf("output %s not written", name)
		}
	}
}

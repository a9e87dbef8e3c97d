// Package binary_test checks the composite sub-action in this folder: its
// inputs and outputs are the root action's, and its script downloads,
// verifies and runs the right released binary.
package binary_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

type actionFile struct {
	Inputs map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID    string            `yaml:"id"`
			Shell string            `yaml:"shell"`
			Env   map[string]string `yaml:"env"`
			Run   string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

func readAction(t *testing.T, path string) actionFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func TestInputsAndOutputsAreTheRootActions(t *testing.T) {
	t.Parallel()
	root, sub := readAction(t, "../action.yml"), readAction(t, "action.yml")
	const fix = " (binary/action.yml must declare exactly the root action.yml's inputs and outputs, with the same descriptions and defaults)"
	if !slices.Equal(slices.Sorted(maps.Keys(root.Inputs)), slices.Sorted(maps.Keys(sub.Inputs))) {
		t.Fatalf("inputs differ: root %v, binary %v"+fix, slices.Sorted(maps.Keys(root.Inputs)), slices.Sorted(maps.Keys(sub.Inputs)))
	}
	for name, in := range root.Inputs {
		got := sub.Inputs[name]
		if got.Description != in.Description || got.Required != in.Required || (got.Default == nil) != (in.Default == nil) ||
			got.Default != nil && *got.Default != *in.Default {
			t.Errorf("input %s differs"+fix, name)
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(root.Outputs)), slices.Sorted(maps.Keys(sub.Outputs))) {
		t.Fatalf("outputs differ: root %v, binary %v"+fix, slices.Sorted(maps.Keys(root.Outputs)), slices.Sorted(maps.Keys(sub.Outputs)))
	}
	for name, out := range root.Outputs {
		got := sub.Outputs[name]
		if got.Description != out.Description {
			t.Errorf("output %s: description differs"+fix, name)
		}
		if want := "${{ steps.run.outputs." + name + " }}"; got.Value != want {
			t.Errorf("output %s: value %q, want %q", name, got.Value, want)
		}
	}
	if sub.Runs.Using != "composite" || len(sub.Runs.Steps) != 1 || sub.Runs.Steps[0].ID != "run" || sub.Runs.Steps[0].Shell != "bash" {
		t.Fatalf("runs: want one bash step with id run, got %+v", sub.Runs)
	}
	env := sub.Runs.Steps[0].Env
	for name := range root.Inputs {
		// As the runner passes them to the Docker action: the binary then
		// speaks of inputs, not flags.
		if want := "${{ inputs." + name + " }}"; env["INPUT_"+strings.ToUpper(name)] != want {
			t.Errorf("input %s reaches the binary as INPUT_%s=%q, want %q", name, strings.ToUpper(name), env["INPUT_"+strings.ToUpper(name)], want)
		}
	}
	if len(env) != len(root.Inputs) {
		t.Errorf("the step sets %d variables for %d inputs", len(env), len(root.Inputs))
	}
}

func TestMainPinsNoRelease(t *testing.T) {
	t.Parallel()
	// The release workflow fills VERSION and SHA256SUMS on the release
	// commit only; on main they stay empty, and the script builds from
	// source.
	for _, f := range []string{"VERSION", "SHA256SUMS"} {
		if b, err := os.ReadFile(f); err != nil || len(strings.TrimSpace(string(b))) != 0 {
			t.Errorf("%s on main: %q, %v; want an empty file", f, b, err)
		}
	}
}

var platforms = [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}, {"windows", "arm64"}}

func assetName(goos, goarch string) string {
	name := "prism-wait_" + goos + "_" + goarch
	if goos == "windows" {
		name += ".exe"
	}
	return name
}

// release is a set of release assets: name → bytes.
type release map[string][]byte

var (
	hostOnce sync.Once
	hostBin  []byte
	hostErr  error
)

// snapshot returns the release to serve: GoReleaser's snapshot build when
// PRISM_WAIT_DIST names its dist folder (.ci/run does), else the host's
// binary built here and stand-ins for the other platforms that fail loudly
// if ever run.
func snapshot(t *testing.T) release {
	t.Helper()
	rel := release{}
	if dist := os.Getenv("PRISM_WAIT_DIST"); dist != "" {
		sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
			name := strings.Fields(line)[1]
			exe := "prism-wait"
			if strings.HasSuffix(name, ".exe") {
				exe += ".exe"
			}
			matches, _ := filepath.Glob(filepath.Join(dist, strings.TrimSuffix(name, ".exe")+"_*", exe))
			if len(matches) != 1 {
				t.Fatalf("%s: %d builds in %s", name, len(matches), dist)
			}
			if rel[name], err = os.ReadFile(matches[0]); err != nil {
				t.Fatal(err)
			}
		}
		return rel
	}
	hostOnce.Do(func() {
		out := filepath.Join(os.TempDir(), fmt.Sprintf("prism-wait-binary-test-%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", out, "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			hostErr = fmt.Errorf("go build: %v\n%s", err, b)
			return
		}
		hostBin, hostErr = os.ReadFile(out)
		os.Remove(out)
	})
	if hostErr != nil {
		t.Fatal(hostErr)
	}
	for _, p := range platforms {
		rel[assetName(p[0], p[1])] = []byte("#!/bin/sh\necho 'the binary of another platform ran' >&2\nexit 97\n")
	}
	rel[assetName(runtime.GOOS, runtime.GOARCH)] = hostBin
	return rel
}

func (rel release) sums() string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(rel)) {
		h := sha256.Sum256(rel[name])
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h[:]), name)
	}
	return b.String()
}

func serve(t *testing.T, rel release) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := rel[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

var runnerNames = map[string]string{"linux": "Linux", "darwin": "macOS", "windows": "Windows", "amd64": "X64", "arm64": "ARM64"}

type step struct {
	code    int
	log     string
	outputs string
}

// runStep runs the sub-action's step as the runner would: its env: with
// the inputs substituted (defaults for the others), from a copy of this
// folder pinned to pinned (a SHA256SUMS text) at version v0.0.0-test.
func runStep(t *testing.T, pinned, base, runnerOS, runnerArch string, inputs map[string]string) step {
	t.Helper()
	return runStepIn(t, "v0.0.0-test\n", pinned, base, runnerOS, runnerArch, t.TempDir(), inputs)
}

// runStepIn is runStep with the VERSION file's text and RUNNER_TEMP given.
func runStepIn(t *testing.T, version, pinned, base, runnerOS, runnerArch, temp string, inputs map[string]string) step {
	t.Helper()
	cmd, output := stepCmd(t, version, pinned, base, runnerOS, runnerArch, temp, inputs)
	logb, _ := cmd.CombinedOutput()
	out, _ := os.ReadFile(output)
	return step{code: cmd.ProcessState.ExitCode(), log: string(logb), outputs: string(out)}
}

// stepCmd is the sub-action's step as the runner starts it: its run: line
// in a script file, run by bash --noprofile --norc -e -o pipefail (the
// runner's shell: bash), with the step's env:. It returns the command and
// where GITHUB_OUTPUT is.
func stepCmd(t *testing.T, version, pinned, base, runnerOS, runnerArch, temp string, inputs map[string]string) (*exec.Cmd, string) {
	t.Helper()
	a := readAction(t, "action.yml")
	dir := t.TempDir()
	for _, f := range []string{"action.yml", "run.sh"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o755)
	}
	os.WriteFile(filepath.Join(dir, "VERSION"), []byte(version), 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(pinned), 0o644)
	if releases, ok := strings.CutPrefix(base, "RELEASES="); ok {
		// The release commit's RELEASES, and no override of it.
		os.WriteFile(filepath.Join(dir, "RELEASES"), []byte(releases+"\n"), 0o644)
		base = ""
	}
	if version == "" {
		// No release pinned: this very folder, as main has it, inside the
		// module it builds from.
		dir = must(os.Getwd())
	}
	ws := t.TempDir()
	output := filepath.Join(temp, "output")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + temp, "GITHUB_ACTIONS=true", "GITHUB_ACTION_PATH=" + dir,
		"RUNNER_TEMP=" + temp, "RUNNER_OS=" + runnerOS, "RUNNER_ARCH=" + runnerArch, "GITHUB_WORKSPACE=" + ws,
		"GITHUB_OUTPUT=" + output, "PRISM_WAIT_RELEASE_BASE=" + base}
	env = append(env, goEnv()...)
	expr := regexp.MustCompile(`^\$\{\{ inputs\.([a-z0-9_]+) \}\}$`)
	for k, v := range a.Runs.Steps[0].Env {
		name := expr.FindStringSubmatch(v)[1]
		val, ok := inputs[name]
		if !ok && a.Inputs[name].Default != nil {
			val = *a.Inputs[name].Default
		}
		env = append(env, k+"="+val)
	}
	script := filepath.Join(temp, "step.sh")
	if err := os.WriteFile(script, []byte(a.Runs.Steps[0].Run+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-o", "pipefail", script)
	cmd.Env, cmd.Dir = env, ws
	return cmd, output
}

// goEnv is this machine's Go caches and module settings, for the step
// that builds from source: with HOME a fresh directory, go would start
// from an empty module cache and fetch every module from the network.
var goEnv = sync.OnceValue(func() []string {
	names := []string{"GOMODCACHE", "GOCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOFLAGS", "GOTOOLCHAIN"}
	out, err := exec.Command("go", append([]string{"env"}, names...)...).Output()
	if err != nil {
		return nil
	}
	var env []string
	for i, v := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if i < len(names) {
			env = append(env, names[i]+"="+v)
		}
	}
	return env
})

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func simulator(t *testing.T) (*prismsim.Server, string) {
	t.Helper()
	sc, err := prismsim.ParseScenario([]byte(`{"generations": {"gen_ok": {"steps": [{"status": "generating"}, {"status": "completed"}]},
		"gen_slow": {"steps": [{"status": "generating"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	sim := prismsim.New(sc)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { sim.Close(); srv.Close() })
	return sim, srv.URL + "/api"
}

func host() (string, string) { return runnerNames[runtime.GOOS], runnerNames[runtime.GOARCH] }

func TestTheRightBinaryRunsAndItsOutputsArrive(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("the script's test runs on Linux and macOS")
	}
	rel := snapshot(t)
	sim, api := simulator(t)
	os, arch := host()
	got := runStep(t, rel.sums(), serve(t, rel), os, arch, map[string]string{
		"generation_id": "gen_ok", "api_key": "prism_sk_subaction", "base_url": api, "poll_interval": "10ms"})
	if got.code != 0 || !strings.Contains(got.outputs, "status<<") || !regexp.MustCompile(`(?m)^completed$`).MatchString(got.outputs) {
		t.Fatalf("exit %d, outputs:\n%s\nlog:\n%s", got.code, got.outputs, got.log)
	}
	if strings.Contains(got.log, "X-Amz-Signature") || strings.Contains(got.log, "sig=") {
		t.Errorf("a presigned URL's signature reached the log:\n%s", got.log)
	}
	if sim.Stats("gen_ok").Requests == 0 {
		t.Error("the simulator saw no status read")
	}
}

// The release commit's RELEASES says where its releases are (a fork's, a
// GitHub Enterprise Server's): the binary comes from there.
func TestTheBinaryComesFromWhereRELEASESSays(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("the script's test runs on Linux and macOS")
	}
	rel := snapshot(t)
	const path = "/fork/prism-wait/releases/download/v0.0.0-test/"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, path)
		if b, found := rel[name]; ok && found {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	_, api := simulator(t)
	os, arch := host()
	got := runStep(t, rel.sums(), "RELEASES="+srv.URL+"/fork/prism-wait/releases/download", os, arch, map[string]string{
		"generation_id": "gen_ok", "api_key": "prism_sk_subaction", "base_url": api, "poll_interval": "10ms"})
	if got.code != 0 {
		t.Fatalf("exit %d, log:\n%s", got.code, got.log)
	}
}

func TestABinaryThatIsNotThePinnedOneNeverRuns(t *testing.T) {
	t.Parallel()
	rel := snapshot(t)
	pinned := rel.sums()
	os, arch := host()
	name := assetName(runtime.GOOS, runtime.GOARCH)
	tampered := maps.Clone(rel)
	tampered[name] = []byte("#!/bin/sh\necho tampered binary ran; exit 0\n")
	sim, api := simulator(t)
	got := runStep(t, pinned, serve(t, tampered), os, arch, map[string]string{"generation_id": "gen_ok", "api_key": "prism_sk_x", "base_url": api})
	if got.code == 0 || !strings.Contains(got.log, "::error title=Binary checksum mismatch::"+name+" of prism-wait v0.0.0-test has SHA-256") ||
		strings.Contains(got.log, "tampered binary ran") || sim.Stats("gen_ok").Requests != 0 {
		t.Errorf("exit %d, log:\n%s", got.code, got.log)
	}
}

func TestAPlatformWithoutABinaryIsNamedWithThoseThereAre(t *testing.T) {
	t.Parallel()
	only := release{"prism-wait_linux_amd64": []byte("x"), "prism-wait_windows_arm64.exe": []byte("y")}
	for _, tc := range []struct{ os, arch, want string }{
		{"macOS", "ARM64", "has no pinned binary for darwin/arm64. Platforms in this release: linux/amd64 windows/arm64"},
		{"FreeBSD", "X64", "has no binary for this runner (RUNNER_OS=FreeBSD, RUNNER_ARCH=X64). Platforms in this release: linux/amd64 windows/arm64"},
		{"Linux", "ARM", "RUNNER_ARCH=ARM"},
	} {
		got := runStep(t, only.sums(), serve(t, only), tc.os, tc.arch, map[string]string{"generation_id": "gen_ok", "api_key": "prism_sk_x"})
		if got.code == 0 || !strings.Contains(got.log, "::error title=Unsupported runner::") || !strings.Contains(got.log, tc.want) {
			t.Errorf("%s/%s: exit %d, log:\n%s", tc.os, tc.arch, got.code, got.log)
		}
	}
}

func TestAMissingAssetFailsTheDownload(t *testing.T) {
	t.Parallel()
	rel := release{assetName(runtime.GOOS, runtime.GOARCH): []byte("x")}
	os, arch := host()
	got := runStep(t, rel.sums(), serve(t, release{}), os, arch, map[string]string{"generation_id": "gen_ok", "api_key": "prism_sk_x"})
	if got.code == 0 || !strings.Contains(got.log, "::error title=Binary download failed::") {
		t.Errorf("exit %d, log:\n%s", got.code, got.log)
	}
}

func TestAWindowsRunnerTempAndCRLFUpperCaseSumsStillVerify(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("the script's test runs on Linux and macOS")
	}
	rel := snapshot(t)
	// Git Bash on Windows: RUNNER_TEMP holds backslashes, and a file edited
	// there may end its lines with CRLF, its sums in upper case.
	temp := filepath.Join(t.TempDir(), `D:\a\_temp`)
	os.MkdirAll(temp, 0o755)
	pinned := strings.ReplaceAll(strings.ToUpper(rel.sums()), "PRISM-WAIT_", "prism-wait_")
	pinned = strings.ReplaceAll(pinned, "\n", "\r\n")
	for _, p := range platforms {
		pinned = strings.ReplaceAll(pinned, strings.ToUpper(p[0]+"_"+p[1]), p[0]+"_"+p[1])
	}
	pinned = strings.ReplaceAll(pinned, ".EXE", ".exe")
	_, api := simulator(t)
	osName, arch := host()
	got := runStepIn(t, "v0.0.0-test\r\n", pinned, serve(t, rel), osName, arch, temp, map[string]string{
		"generation_id": "gen_ok", "api_key": "prism_sk_subaction", "base_url": api, "poll_interval": "10ms"})
	if got.code != 0 || !regexp.MustCompile(`(?m)^completed$`).MatchString(got.outputs) {
		t.Errorf("exit %d, outputs:\n%s\nlog:\n%s", got.code, got.outputs, got.log)
	}
}

// A pin that is no SHA-256 (cut short, say) is said as a broken pin, and
// nothing is downloaded: it is no mismatch of the download's.
func TestABrokenPinIsSaidAsSuch(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("the script's test runs on Linux and macOS")
	}
	osName, arch := host()
	name := assetName(runtime.GOOS, runtime.GOARCH)
	got := runStep(t, "abc123  "+name+"\n", "http://127.0.0.1:1", osName, arch, map[string]string{"generation_id": "gen_ok", "api_key": "prism_sk_x"})
	if got.code == 0 || !strings.Contains(got.log, "::error title=Broken pin::binary/SHA256SUMS of prism-wait v0.0.0-test pins no SHA-256 for "+name) {
		t.Errorf("exit %d, log:\n%s", got.code, got.log)
	}
}

func TestTheBinarySpeaksOfInputsAsTheActionDoes(t *testing.T) {
	t.Parallel()
	rel := snapshot(t)
	osName, arch := host()
	got := runStep(t, rel.sums(), serve(t, rel), osName, arch, map[string]string{"generation_id": "gen_ok", "api_key": "prism_sk_x", "timeout": "soon"})
	if got.code != 2 || !strings.Contains(got.log, "::error title=Invalid input::timeout:") || strings.Contains(got.log, "--timeout") || strings.Contains(got.log, "PRISM_TIMEOUT") {
		t.Errorf("exit %d, log:\n%s", got.code, got.log)
	}
}

// A cancel: the runner sends SIGINT, then SIGTERM, to the step's shell
// alone. It reaches the binary (each exec replaces the shell), which
// writes the outputs and exits 3; no binary is left running.
func TestACancelReachesTheBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("go"); err != nil || runtime.GOOS == "windows" {
		t.Skip("no go, or no signals to send")
	}
	sim, api := simulator(t)
	osName, arch := host()
	temp := t.TempDir()
	cmd, output := stepCmd(t, "", "", "http://127.0.0.1:1", osName, arch, temp, map[string]string{
		"generation_id": "gen_slow", "api_key": "prism_sk_subaction", "base_url": api, "poll_interval": "50ms", "timeout": "5m"})
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for sim.Stats("gen_slow").Requests == 0 { // built, and polling
		select {
		case <-done:
			t.Fatalf("the step ended before it polled:\n%s", log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the step did not end after SIGINT:\n%s", log.String())
	}
	out, _ := os.ReadFile(output)
	if code := cmd.ProcessState.ExitCode(); code != 3 || !strings.Contains(string(out), "status<<") {
		t.Errorf("exit %d after SIGINT, outputs %q; want 3 with the outputs written:\n%s", code, out, log.String())
	}
}

func TestOnMainTheSubActionBuildsFromSource(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go")
	}
	_, api := simulator(t)
	osName, arch := host()
	got := runStepIn(t, "", "", "http://127.0.0.1:1", osName, arch, t.TempDir(), map[string]string{
		"generation_id": "gen_ok", "api_key": "prism_sk_subaction", "base_url": api, "poll_interval": "10ms"})
	if got.code != 0 || !strings.Contains(got.log, "No release pinned: building prism-wait from source") {
		t.Errorf("exit %d, log:\n%s", got.code, got.log)
	}
}

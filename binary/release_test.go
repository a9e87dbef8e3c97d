package binary_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// publishStep is the release workflow's step that makes the release
// commit and moves the tag onto it.
func publishStep(t *testing.T) (script string, env map[string]string) {
	return releaseStep(t, "Point the tag at a release commit")
}

// releaseStep is the publish job's step whose name starts with prefix.
func releaseStep(t *testing.T, prefix string) (script string, env map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Env  map[string]string `yaml:"env"`
				Run  string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	for _, s := range wf.Jobs["publish"].Steps {
		if strings.HasPrefix(s.Name, prefix) {
			return s.Run, s.Env
		}
	}
	t.Fatalf("release.yml: no publish step %q…", prefix)
	return "", nil
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestTheBinariesJobHandsItsSumsToThePublishJob(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Needs   any               `yaml:"needs"`
			Outputs map[string]string `yaml:"outputs"`
			Steps   []struct {
				ID  string            `yaml:"id"`
				Env map[string]string `yaml:"env"`
				Run string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatal(err)
	}
	if got := wf.Jobs["binaries"].Outputs["sums"]; got != "${{ steps.sums.outputs.sums }}" {
		t.Errorf("binaries job output sums = %q", got)
	}
	_, env := publishStep(t)
	if env["SUMS"] != "${{ needs.binaries.outputs.sums }}" {
		t.Errorf("the publish step's SUMS = %q, want the binaries job's output", env["SUMS"])
	}
	var script string
	for _, s := range wf.Jobs["binaries"].Steps {
		if s.ID == "sums" {
			script = s.Run
		}
	}
	if script == "" {
		t.Fatal("the binaries job has no step with id sums")
	}
	// The step, on GoReleaser's SHA256SUMS (SBOMs listed too).
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "dist"), 0o755)
	var dist, want strings.Builder
	for i, p := range platforms {
		line := fmt.Sprintf("%064x  %s", i+1, assetName(p[0], p[1]))
		fmt.Fprintln(&dist, line)
		fmt.Fprintf(&dist, "%064x  %s.spdx.json\n", i+10, assetName(p[0], p[1]))
		fmt.Fprintln(&want, line)
	}
	os.WriteFile(filepath.Join(dir, "dist", "SHA256SUMS"), []byte(dist.String()), 0o644)
	output := filepath.Join(dir, "output")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "GITHUB_OUTPUT="+output)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sums step: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(output)
	if string(got) != "sums<<SUMS_END\n"+want.String()+"SUMS_END\n" {
		t.Errorf("GITHUB_OUTPUT:\n%s\nwant the six binaries' lines", got)
	}
	// Without the six, the step fails with its annotation.
	os.WriteFile(filepath.Join(dir, "dist", "SHA256SUMS"), []byte("nothing\n"), 0o644)
	cmd = exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "GITHUB_OUTPUT="+output)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "::error title=Missing sums::") {
		t.Errorf("sums step without binaries: %v\n%s", err, out)
	}
}

func TestTheReleaseCommitPinsTheImageAndTheBinaries(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	script, _ := publishStep(t)
	root := t.TempDir()
	origin, work, temp := filepath.Join(root, "origin.git"), filepath.Join(root, "work"), filepath.Join(root, "temp")
	for _, d := range []string{work, temp, filepath.Join(work, "binary")} {
		os.MkdirAll(d, 0o755)
	}
	git(t, root, "init", "-q", "--bare", origin)
	git(t, work, "init", "-q", "-b", "main")
	action, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(work, "action.yml"), action, 0o644)
	os.WriteFile(filepath.Join(work, "binary", "VERSION"), nil, 0o644)
	os.WriteFile(filepath.Join(work, "binary", "SHA256SUMS"), nil, 0o644)
	git(t, work, "add", ".")
	git(t, work, "commit", "-qm", "tested commit")
	git(t, work, "remote", "add", "origin", origin)
	git(t, work, "tag", "v1.2.3")
	git(t, work, "push", "-q", "origin", "main", "v1.2.3")
	tested := git(t, work, "rev-parse", "HEAD")

	// The binaries job's output: the six binaries' lines of SHA256SUMS.
	var sums strings.Builder
	for i, p := range platforms {
		fmt.Fprintf(&sums, "%064x  %s\n", i+1, assetName(p[0], p[1]))
	}

	image := "ghcr.io/prism-wait/prism-wait@sha256:" + strings.Repeat("a", 64)
	output := filepath.Join(temp, "output")
	step := func(sums string) (string, error) {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TAG=v1.2.3", "IMAGE="+image, "SUMS="+sums,
			"GITHUB_SHA="+tested, "RUNNER_TEMP="+temp, "GITHUB_OUTPUT="+output,
			"GITHUB_SERVER_URL=https://ghe.example", "GITHUB_REPOSITORY=fork/prism-wait",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	run := func() string {
		out, err := step(strings.TrimSpace(sums.String()))
		if err != nil {
			t.Fatalf("publish step: %v\n%s", err, out)
		}
		return out
	}
	run()
	release := git(t, origin, "rev-parse", "v1.2.3^{commit}")
	if parent := git(t, origin, "rev-parse", release+"^"); parent != tested || release == tested {
		t.Fatalf("v1.2.3 -> %s with parent %s, want a release commit on top of %s", release, parent, tested)
	}
	if got := git(t, origin, "show", release+":binary/VERSION"); got != "v1.2.3" {
		t.Errorf("binary/VERSION = %q", got)
	}
	pinned := git(t, origin, "show", release+":binary/SHA256SUMS")
	if pinned != strings.TrimSpace(sums.String()) {
		t.Errorf("binary/SHA256SUMS pins:\n%s\nwant the binaries job's sums:\n%s", pinned, sums.String())
	}
	if !slices.Contains(strings.Split(git(t, origin, "show", release+":action.yml"), "\n"), "  image: docker://"+image) {
		t.Error("the release commit's action.yml does not run the image by digest")
	}
	if got := git(t, origin, "show", release+":binary/RELEASES"); got != "https://ghe.example/fork/prism-wait/releases/download" {
		t.Errorf("binary/RELEASES = %q, want this repository's releases on its own server", got)
	}
	// vX moves only in its own step, after the release is published.
	if out, err := exec.Command("git", "-C", origin, "rev-parse", "--verify", "-q", "v1").CombinedOutput(); err == nil {
		t.Errorf("v1 moved before the release was published: %s", out)
	}
	if got, _ := os.ReadFile(output); string(got) != "release="+release+"\n" {
		t.Errorf("the step's output = %q, want release=%s", got, release)
	}
	major, _ := releaseStep(t, "Point vX at the published release commit")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", major)
	cmd.Dir, cmd.Env = work, append(os.Environ(), "TAG=v1.2.3", "RELEASE="+release)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the vX step: %v\n%s", err, out)
	}
	if major := git(t, origin, "rev-parse", "v1^{commit}"); major != release {
		t.Errorf("v1 -> %s, want %s", major, release)
	}
	// A re-run finds the release commit and moves nothing.
	git(t, work, "fetch", "-q", "--force", "origin", "+refs/tags/*:refs/tags/*")
	git(t, work, "checkout", "-q", "-f", tested)
	// A re-run whose binaries differ from those pinned stops.
	if out, err := step(strings.Replace(sums.String(), "0000000001", "00000000ff", 1)); err == nil || !strings.Contains(out, "::error title=Sums changed::") {
		t.Errorf("a re-run with other binaries: %v\n%s", err, out)
	}
	if out := run(); !strings.Contains(out, "already points at its release commit") {
		t.Errorf("re-run said:\n%s", out)
	}
	if again := git(t, origin, "rev-parse", "v1.2.3^{commit}"); again != release {
		t.Errorf("the re-run moved v1.2.3 to %s", again)
	}
}

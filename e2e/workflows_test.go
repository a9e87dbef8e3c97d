package e2e

// Every workflow example in the documentation runs: each YAML block that
// uses the action is part of a workflow under testdata/workflows/, which
// nektos/act runs against the simulator with `uses: ./` and a later step
// that checks the outputs arrive as the example promises.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// exampleDocs are the documents whose examples must run (patterns from
// the module root).
var exampleDocs = []string{"README.md", "cmd/prism-sim/README.md", "docs/*.md"}

// workflowStandIns are how a workflow under testdata/workflows/ differs
// from an example on purpose: the action from this checkout, local
// stand-ins for the remote actions act cannot fetch here, and the
// simulator in place of Prism.
var workflowStandIns = strings.NewReplacer(
	"uses: <owner>/prism-wait@v1", "uses: ./",
	"uses: actions/upload-artifact@v7", "uses: ./testdata/workflows/stand-ins/upload-artifact",
	"uses: actions/setup-go@v7", "uses: ./testdata/workflows/stand-ins/setup-go",
	"go install github.com/prism-wait/prism-wait/cmd/prism-sim@v1", "go install ./cmd/prism-sim",
	"https://prismvideos.com/api", "${PRISM_SIM_API}",
)

// rehearsalOnly marks a workflow line that the example does not have (the
// simulator's base_url, a checkout for `uses: ./`, an id to read outputs by).
const rehearsalOnly = "# rehearsal only"

type example struct {
	where string // file:line
	lines []string
}

var exampleBlock = regexp.MustCompile("(?ms)^```ya?ml\n(.*?)^```")

// actionExamples are the YAML blocks of the documents that use the action.
func actionExamples(t *testing.T) []example {
	t.Helper()
	var out []example
	root := repoPath(t, ".")
	var docs []string
	for _, pattern := range exampleDocs {
		found, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, found...)
	}
	for _, path := range docs {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := filepath.Rel(root, path)
		for _, m := range exampleBlock.FindAllSubmatchIndex(raw, -1) {
			block := string(raw[m[2]:m[3]])
			if !strings.Contains(block, "uses: <owner>/prism-wait@") {
				continue // another CI's file, or a fragment without the action
			}
			line := strings.Count(string(raw[:m[0]]), "\n") + 1
			out = append(out, example{where: doc + ":" + strconv.Itoa(line), lines: strings.Split(strings.TrimRight(block, "\n"), "\n")})
		}
	}
	return out
}

// workflowLines are a workflow's lines without the rehearsal-only ones.
func workflowLines(raw string) []string {
	var out []string
	for _, l := range strings.Split(raw, "\n") {
		if !strings.Contains(l, rehearsalOnly) {
			out = append(out, l)
		}
	}
	return out
}

// holds reports whether wf holds the example's lines, with its stand-ins,
// one after the other and indented alike.
func holds(wf, ex []string) bool {
	want := make([]string, len(ex))
	for i, l := range ex {
		want[i] = workflowStandIns.Replace(l)
	}
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	for i := 0; i+len(want) <= len(wf); i++ {
		shift := indent(wf[i]) - indent(want[0])
		if shift < 0 {
			continue
		}
		pad := strings.Repeat(" ", shift)
		ok := true
		for j, l := range want {
			if strings.TrimSpace(l) == "" {
				ok = strings.TrimSpace(wf[i+j]) == ""
			} else {
				ok = wf[i+j] == pad+l
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestDocumentedWorkflowsAreRunByAct(t *testing.T) {
	t.Parallel()
	examples := actionExamples(t)
	if len(examples) == 0 {
		t.Fatalf("no YAML example using the action in %q", exampleDocs)
	}
	files, err := filepath.Glob(repoPath(t, "testdata/workflows/*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflow in testdata/workflows: %v", err)
	}
	for _, ex := range examples {
		found := false
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if holds(workflowLines(string(raw)), ex.lines) {
				found = true
			}
		}
		if !found {
			t.Errorf("the example at %s is in no workflow under testdata/workflows/: copy it there (with `uses: ./` and the stand-ins this test lists), give it the simulator's base_url on a line marked %q, and check its outputs in a later step", ex.where, rehearsalOnly)
		}
	}
}

func TestWorkflowHoldsAnExample(t *testing.T) {
	t.Parallel()
	ex := []string{"- name: Wait", "  uses: <owner>/prism-wait@v1", "  with:", "    api_key: x", "", "- run: echo"}
	wf := func(lines ...string) []string { return workflowLines(strings.Join(lines, "\n")) }
	for _, tc := range []struct {
		name string
		wf   []string
		want bool
	}{
		{"indented, with a stand-in and a rehearsal-only line", wf("steps:", "  - name: Wait", "    uses: ./", "    with:", "      api_key: x", "      base_url: y "+rehearsalOnly, "", "  - run: echo"), true},
		{"the remote action kept", wf("  - name: Wait", "    uses: <owner>/prism-wait@v1", "    with:", "      api_key: x", "", "  - run: echo"), false},
		{"a line changed", wf("  - name: Wait", "    uses: ./", "    with:", "      api_key: z", "", "  - run: echo"), false},
		{"an extra line unmarked", wf("  - name: Wait", "    uses: ./", "    with:", "      api_key: x", "      base_url: y", "", "  - run: echo"), false},
		{"indented differently", wf("  - name: Wait", "      uses: ./", "    with:", "      api_key: x", "", "  - run: echo"), false},
		{"cut short", wf("  - name: Wait", "    uses: ./", "    with:", "      api_key: x"), false},
	} {
		if got := holds(tc.wf, ex); got != tc.want {
			t.Errorf("%s: holds = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDockerWorkflowsUnderAct runs every workflow under testdata/workflows/
// with act, the action's image built from the Dockerfile, against a
// simulator on the Docker bridge's gateway.
func TestDockerWorkflowsUnderAct(t *testing.T) {
	e := needImage(t)
	act, runner := os.Getenv("PRISM_WAIT_ACT"), os.Getenv("PRISM_WAIT_RUNNER_IMAGE")
	if act == "" || runner == "" {
		t.Skip("no act to run the workflows with: scripts/container-test installs it and sets PRISM_WAIT_ACT and PRISM_WAIT_RUNNER_IMAGE")
	}
	// act runs `uses: ./` from act-dockeraction:latest (--rebuild=false):
	// its own build asks for the legacy builder, which cannot read the
	// Dockerfile's $BUILDPLATFORM.
	id := func(image string) string {
		out, err := exec.Command(e.docker, "image", "inspect", "--format", "{{.Id}}", image).Output()
		if err != nil {
			t.Fatalf("docker image inspect %s: %v", image, err)
		}
		return strings.TrimSpace(string(out))
	}
	if id("act-dockeraction:latest") != id(e.image) {
		t.Fatalf("act-dockeraction:latest is not %s: scripts/container-test tags it", e.image)
	}
	files, _ := filepath.Glob(repoPath(t, "testdata/workflows/*.yml"))
	if len(files) == 0 {
		t.Fatal("no workflow in testdata/workflows")
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".actrc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// One at a time: the rehearsal recipe's simulator takes port 8787, and
	// each run starts two or three containers.
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sim := simOnGateway(t, e, "testdata/scenarios/readme.json")
			root := repoPath(t, ".")
			rel, _ := filepath.Rel(root, f)
			cmd := exec.Command(act, "push", "-W", rel, "-P", "ubuntu-latest="+runner,
				"--pull=false", "--rebuild=false", "--action-offline-mode", "--rm",
				"-s", "PRISM_API_KEY", "--env", "PRISM_SIM_API="+sim.base,
				// Go's caches outlive the job: the recipe's go install then
				// takes seconds, not minutes, from the second run on.
				"--container-options", "-v prism-wait-ci-gocache:/root/.cache/go-build -v prism-wait-ci-gomod:/go/pkg/mod")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "ACT_DISABLE_VERSION_CHECK=1", "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"), "PRISM_API_KEY="+e2eKey)
			out, err := cmd.CombinedOutput()
			log := string(out)
			if err != nil {
				t.Fatalf("act -W %s: %v\n%s", rel, err, log)
			}
			raw, _ := os.ReadFile(f)
			steps := strings.Count(string(raw), "uses: ./\n")
			// act ran each step of the action in the image (and, by its
			// exit code, every step succeeded).
			if got := strings.Count(log, "docker run image=act-dockeraction:latest"); got < steps || !strings.Contains(log, "Job succeeded") {
				t.Errorf("act ran the action's image %d times for its %d steps:\n%s", got, steps, log)
			}
			if strings.Contains(log, e2eKey) {
				t.Errorf("the key reached act's log:\n%s", log)
			}
		})
	}
}

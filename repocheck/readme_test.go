package repocheck

// The README's YAML examples are what users paste into their workflows:
// each must load as a GitHub workflow fragment, pass actionlint, and never
// paste an output or API value into a run: script (GitHub's hardening
// guide: pass it through env: and quote the variable).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prism-wait/prism-wait/internal/config"

	"go.yaml.in/yaml/v3"
)

// yamlBlock is one ```yaml fenced block of a Markdown file.
type yamlBlock struct {
	Line int    // of the opening fence, 1-based
	Text string // without the fences
}

// otherCI marks blocks for other CI systems by their exact first line.
var otherCI = []string{"# .gitlab-ci.yml", "# .buildkite/pipeline.yml"}

// yamlBlocks extracts the ```yaml blocks of md that are meant for GitHub
// workflows.
func yamlBlocks(md string) []yamlBlock {
	var out []yamlBlock
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		if len(body) > 0 && (body[0] == otherCI[0] || body[0] == otherCI[1]) {
			continue
		}
		out = append(out, yamlBlock{Line: start + 1, Text: strings.Join(body, "\n") + "\n"})
	}
	return out
}

var topLevelKey = regexp.MustCompile(`^"?([A-Za-z_][A-Za-z0-9_-]*)"?\s*:`)

// wrapWorkflow makes a whole workflow of a fragment: a list of steps goes
// into a job, a jobs: map gets a trigger, a whole workflow stays as it is.
// It works on the text, so that a block that is not valid YAML still
// reaches actionlint, which says where it breaks.
func wrapWorkflow(block string) (string, error) {
	var first string
	keys := map[string]bool{}
	for _, l := range strings.Split(block, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if first == "" {
			first = l
		}
		if m := topLevelKey.FindStringSubmatch(l); m != nil {
			keys[m[1]] = true
		}
	}
	switch {
	case strings.HasPrefix(first, "- ") || first == "-":
		var b strings.Builder
		b.WriteString("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n")
		for _, l := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
			if l != "" {
				l = "      " + l
			}
			b.WriteString(l + "\n")
		}
		return b.String(), nil
	case keys["on"] && keys["jobs"]:
		return block, nil
	case keys["jobs"]:
		return "on: push\n" + block, nil
	}
	return "", fmt.Errorf("neither a list of steps, a jobs: map nor a whole workflow (first line %q)", first)
}

// tainted is an expression that can carry API or user text: step and job
// outputs, the event, inputs, and anything decoded with fromJSON.
var (
	expression = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	tainted    = regexp.MustCompile(`(?i)\b(steps\.|needs\.|github\.event|inputs\.|fromjson\()`)
)

// runInjections parses a workflow and returns each run: script that
// interpolates a tainted expression, as "job/step: expression".
func runInjections(workflow string) ([]string, error) {
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				ID   string `yaml:"id"`
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(workflow), &wf); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	var bad []string
	for job, j := range wf.Jobs {
		for i, s := range j.Steps {
			for _, m := range expression.FindAllStringSubmatch(s.Run, -1) {
				if tainted.MatchString(m[1]) {
					bad = append(bad, fmt.Sprintf("%s/step %d: run: interpolates %s", job, i+1, m[0]))
				}
			}
		}
	}
	return bad, nil
}

// checkBlocks writes each block's workflow under dir/.github/workflows
// and returns the problems found without actionlint, by block, and the
// files written, by block line.
func checkBlocks(dir string, blocks []yamlBlock) (problems map[int][]string, files map[string]int, err error) {
	wfDir := filepath.Join(dir, ".github", "workflows")
	if err := os.MkdirAll(wfDir, 0o755); err != nil {
		return nil, nil, err
	}
	problems, files = map[int][]string{}, map[string]int{}
	for _, b := range blocks {
		wf, err := wrapWorkflow(b.Text)
		if err != nil {
			problems[b.Line] = append(problems[b.Line], err.Error())
			continue
		}
		bad, err := runInjections(wf)
		if err != nil {
			problems[b.Line] = append(problems[b.Line], err.Error())
		}
		problems[b.Line] = append(problems[b.Line], bad...)
		name := filepath.Join(wfDir, fmt.Sprintf("readme-line-%d.yml", b.Line))
		if err := os.WriteFile(name, []byte(wf), 0o644); err != nil {
			return nil, nil, err
		}
		files[name] = b.Line
	}
	return problems, files, nil
}

// actionlint runs actionlint once over files and returns its findings by
// file. shellcheck and pyflakes are off: whether they are installed must
// not change the verdict.
func actionlint(t *testing.T, dir string, files map[string]int) map[string][]string {
	t.Helper()
	args := []string{"run", "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12", "-shellcheck=", "-pyflakes=", "-no-color", "-format", "{{range $err := .}}{{$err.Filepath}}\t{{$err.Line}}:{{$err.Column}}: {{$err.Message}} [{{$err.Kind}}]\n{{end}}"}
	for f := range files {
		args = append(args, f)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("actionlint: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	found := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if file, msg, ok := strings.Cut(l, "\t"); ok {
			if !filepath.IsAbs(file) {
				file = filepath.Join(dir, file)
			}
			found[file] = append(found[file], msg)
		}
	}
	if err != nil && len(found) == 0 {
		t.Fatalf("actionlint failed without findings:\n%s%s", stdout.String(), stderr.String())
	}
	return found
}

func TestReadmeYAML(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(string(md))
	if len(blocks) == 0 {
		t.Fatal("no ```yaml block in README.md")
	}
	dir := t.TempDir()
	problems, files, err := checkBlocks(dir, blocks)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		for _, p := range problems[b.Line] {
			t.Errorf("README.md block at line %d: %s", b.Line, p)
		}
	}
	if testing.Short() {
		t.Skip("actionlint is slow to build; it runs without -short")
	}
	for file, findings := range actionlint(t, dir, files) {
		line, ok := files[file]
		if !ok {
			t.Errorf("actionlint reports on %s, which is no block's file: %q", file, findings)
		}
		for _, f := range findings {
			t.Errorf("README.md block at line %d: actionlint: %s (in the wrapped workflow %s)", line, f, filepath.Base(file))
		}
	}
}

// TestReadmeYAMLChecker holds the extractor, the wrapper and the
// injection check to a small README of known mistakes, so that
// TestReadmeYAML would catch them.
func TestReadmeYAMLChecker(t *testing.T) {
	t.Parallel()
	md := "# Title\n\n```sh\necho not yaml\n```\n\n" +
		"```yaml\n- id: wait\n  uses: o/prism-wait@v1\n- env:\n    URL: ${{ steps.wait.outputs.share_url }}\n  run: echo \"$URL\"\n```\n\n" + // line 7: fine
		"```yaml\n- run: echo \"Video at ${{ steps.wait.outputs.share_url }}\"\n```\n\n" + // line 15: injection
		"```yaml\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ toJSON(fromJSON(needs.b.outputs.results)) }} ${{ github.sha }}\n```\n\n" + // line 19: injection
		"```yaml\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"${{ github.event.issue.title }}\"\n      - run: echo ${{ inputs.name }} ${{ github.sha }}\n```\n\n" + // line 27: two
		"```yaml\n- run: echo \"First video: ${{ github.sha }}\"\n```\n\n" + // line 37: not valid YAML
		"```yaml\n# .gitlab-ci.yml\nwait:\n  script: [echo]\n```\n\n" + // skipped
		"```yaml\n# .gitlab-ci.yml, with a note\nwait:\n  script: [echo]\n```\n" // line 47: not a fragment
	blocks := yamlBlocks(md)
	var lines []int
	for _, b := range blocks {
		lines = append(lines, b.Line)
	}
	if fmt.Sprint(lines) != "[7 15 19 27 37 47]" {
		t.Fatalf("blocks at lines %v, want [7 15 19 27 37 47]", lines)
	}
	problems, files, err := checkBlocks(t.TempDir(), blocks)
	if err != nil {
		t.Fatal(err)
	}
	for line, want := range map[int]int{7: 0, 15: 1, 19: 1, 27: 2, 37: 1, 47: 1} {
		if len(problems[line]) != want {
			t.Errorf("block at line %d: problems %q, want %d", line, problems[line], want)
		}
	}
	if len(files) != 5 {
		t.Errorf("%d workflow files, want one for each block but the non-fragment", len(files))
	}
	for name, line := range files {
		raw, _ := os.ReadFile(name)
		var wf map[string]any
		if line != 37 && (yaml.Unmarshal(raw, &wf) != nil || wf["on"] == nil || wf["jobs"] == nil) {
			t.Errorf("block at line %d does not wrap into a whole workflow:\n%s", line, raw)
		}
	}
}

// TestReadmeInputsAreTheCode holds the README's input table against the
// code's: every input has a row, with its default.
func TestReadmeInputsAreTheCode(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(md), "\n") {
		if name, ok := strings.CutPrefix(line, "| `"); ok {
			if name, rest, ok := strings.Cut(name, "` |"); ok {
				rows[name] = rest
			}
		}
	}
	for _, in := range config.Inputs {
		row, ok := rows[in.Name]
		switch {
		case !ok:
			t.Errorf("README's input table has no row for %s", in.Name)
		case in.Default != "" && !strings.Contains(row, "`"+in.Default+"`"):
			t.Errorf("README's row for %s does not give its default %q: %s", in.Name, in.Default, row)
		case in.Required && !strings.Contains(row, "required"):
			t.Errorf("README's row for %s does not say it is required", in.Name)
		}
	}
}

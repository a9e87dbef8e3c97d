package repocheck

// The YAML examples of every Markdown file (the README, docs/,
// CONTRIBUTING.md, the simulator's README) are what users paste into their
// workflows: each must load as a GitHub workflow fragment, pass actionlint,
// and never paste an output or API value into a run: script (GitHub's
// hardening guide: pass it through env: and quote the variable). The
// README's input and output tables are action.yml's, made by
// readme-tables.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/outcome"

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

// checkBlocks writes each block's workflow under dir/.github/workflows,
// named after prefix and the block's line, and returns the problems found
// without actionlint, by block, and the files written, by block line.
func checkBlocks(dir, prefix string, blocks []yamlBlock) (problems map[int][]string, files map[string]int, err error) {
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
		name := filepath.Join(wfDir, fmt.Sprintf("%s-line-%d.yml", prefix, b.Line))
		if err := os.WriteFile(name, []byte(wf), 0o644); err != nil {
			return nil, nil, err
		}
		files[name] = b.Line
	}
	return problems, files, nil
}

// actionlint runs actionlint once over files (absolute paths) and returns
// its findings by file. It is the version tools/go.mod pins, run from that
// module. shellcheck and pyflakes are off: whether they are installed must
// not change the verdict.
func actionlint(t *testing.T, files map[string]int) map[string][]string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "tools")
	args := []string{"tool", "actionlint", "-shellcheck=", "-pyflakes=", "-no-color", "-format", "{{range $err := .}}{{$err.Filepath}}\t{{$err.Line}}:{{$err.Column}}: {{$err.Message}} [{{$err.Kind}}]\n{{end}}"}
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

// repoRoot is the repository's root, from this package's folder.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// markdownFiles returns every Markdown file of the repository, relative to
// root: hidden folders but .github, and GoReleaser's dist/, are skipped.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") && d.Name() != ".github" || rel == "dist") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".md") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestMarkdownYAML checks the YAML blocks of every Markdown file in the
// repository, actionlint included.
func TestMarkdownYAML(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	dir := t.TempDir()
	at := map[string]string{} // workflow file → "FILE.md block at line N"
	all := map[string]int{}
	files := markdownFiles(t, root)
	if len(files) < 2 {
		t.Fatalf("found Markdown files %q, want README.md and the docs at least", files)
	}
	for _, name := range files {
		md, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		blocks := yamlBlocks(string(md))
		if name == "README.md" && len(blocks) == 0 {
			t.Error("no ```yaml block in README.md: the usage examples are gone")
		}
		prefix := strings.NewReplacer("/", "_", ".", "_").Replace(filepath.ToSlash(name))
		problems, written, err := checkBlocks(dir, prefix, blocks)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			for _, p := range problems[b.Line] {
				t.Errorf("%s block at line %d: %s", name, b.Line, p)
			}
		}
		for f, line := range written {
			at[f] = fmt.Sprintf("%s block at line %d", name, line)
			all[f] = line
		}
	}
	if testing.Short() {
		t.Skip("actionlint is slow to build; it runs without -short")
	}
	for file, findings := range actionlint(t, all) {
		where, ok := at[file]
		if !ok {
			t.Errorf("actionlint reports on %s, which is no block's file: %q", file, findings)
		}
		for _, f := range findings {
			t.Errorf("%s: actionlint: %s (in the wrapped workflow %s)", where, f, filepath.Base(file))
		}
	}
}

// TestReadmeYAMLChecker holds the extractor, the wrapper and the
// injection check to a small README of known mistakes, so that
// TestMarkdownYAML would catch them.
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
	problems, files, err := checkBlocks(t.TempDir(), "example", blocks)
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
	md, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := Between(md, InputsTable)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
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

// TestReadmeTablesAreActionYML holds the README's generated tables to
// action.yml: a change to either without the other fails here.
func TestReadmeTablesAreActionYML(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	actionYML, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ActionTables(actionYML)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{InputsTable, OutputsTable} {
		got, err := Between(readme, name)
		if err != nil {
			t.Errorf("README.md: %v", err)
			continue
		}
		if got != want[name] {
			t.Errorf("README.md's %s table is not action.yml's; regenerate it from the repository's root with\n\t%s\n%s", name, RegenerateCommand, firstDifference(got, want[name]))
		}
	}
}

// firstDifference names the first line where got and want part.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference, line %d of the table:\n README:     %q\n action.yml: %q", i+1, gl, wl)
		}
	}
	return ""
}

func TestActionTables(t *testing.T) {
	t.Parallel()
	actionYML := []byte(`name: x
inputs:
  zeta:
    description: >-
      First in the file,
      so first in the table; a | b <dir>.
    required: true
  alpha:
    description: Has a default.
    default: '5s'
  empty:
    description: Default empty.
    required: false
    default: ''
outputs:
  out_b:
    description: Second output declared first.
  out_a:
    description: Plain.
runs:
  using: docker
`)
	tables, err := ActionTables(actionYML)
	if err != nil {
		t.Fatal(err)
	}
	wantIn := generatedNote + "| input | default | description |\n|---|---|---|\n" +
		"| `zeta` | required | First in the file, so first in the table; a \\| b &lt;dir>. |\n" +
		"| `alpha` | `5s` | Has a default. |\n" +
		"| `empty` |  | Default empty. |\n"
	if tables[InputsTable] != wantIn {
		t.Errorf("inputs table:\n%s\nwant:\n%s", tables[InputsTable], wantIn)
	}
	wantOut := generatedNote + "| output | description |\n|---|---|\n| `out_b` | Second output declared first. |\n| `out_a` | Plain. |\n"
	if tables[OutputsTable] != wantOut {
		t.Errorf("outputs table:\n%s\nwant:\n%s", tables[OutputsTable], wantOut)
	}
	for _, bad := range []string{"inputs: [a]\noutputs: {}\n", "inputs: {}\n", "- a\n", "inputs: {a: {required: [x]}}\noutputs: {}\n"} {
		if _, err := ActionTables([]byte(bad)); err == nil {
			t.Errorf("ActionTables(%q): no error", bad)
		}
	}
}

func TestReadmeReplacesOnlyBetweenMarkers(t *testing.T) {
	t.Parallel()
	actionYML := []byte("inputs:\n  a:\n    description: A.\noutputs:\n  b:\n    description: B.\n")
	tables, err := ActionTables(actionYML)
	if err != nil {
		t.Fatal(err)
	}
	doc := "# T\n\n<!-- inputs:start -->\nstale\n<!-- inputs:end -->\n\ntext\n<!-- outputs:start -->\n<!-- outputs:end -->\nend\n"
	got, err := Readme([]byte(doc), actionYML)
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\n<!-- inputs:start -->\n" + tables[InputsTable] + "<!-- inputs:end -->\n\ntext\n<!-- outputs:start -->\n" + tables[OutputsTable] + "<!-- outputs:end -->\nend\n"
	if string(got) != want {
		t.Errorf("Readme:\n%s\nwant:\n%s", got, want)
	}
	again, err := Readme(got, actionYML)
	if err != nil || string(again) != want {
		t.Errorf("Readme of its own result changed it: %v\n%s", err, again)
	}
	for doc, wantErr := range map[string]string{
		"no markers\n": "no \"<!-- inputs:start -->\"",
		"<!-- inputs:end -->\n<!-- inputs:start -->\n<!-- outputs:start -->\n<!-- outputs:end -->\n": "comes before",
		"<!-- inputs:start -->\n<!-- inputs:end -->\n<!-- inputs:start -->\n<!-- inputs:end -->\n":   "more than once",
		"<!-- inputs:start -->\n<!-- inputs:end -->\n":                                               "outputs",
	} {
		if _, err := Readme([]byte(doc), actionYML); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Readme(%q): error %v, want one saying %q", doc, err, wantErr)
		}
	}
}

// TestUpdateReadmeWritesTheTables runs the generator in a small
// repository of its own, from a folder inside it.
func TestUpdateReadmeWritesTheTables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":     "module x\n",
		"action.yml": "inputs:\n  a:\n    description: A.\noutputs:\n  b:\n    description: B.\n",
		"README.md":  "<!-- inputs:start -->\n<!-- inputs:end -->\n<!-- outputs:start -->\n<!-- outputs:end -->\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "docs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	found, err := FindRoot(sub)
	if err != nil || found != dir {
		t.Fatalf("FindRoot(%s) = %q, %v; want %s", sub, found, err, dir)
	}
	if found, err := FindRoot(filepath.Dir(dir)); err == nil {
		t.Errorf("FindRoot(%s) = %s, where no folder up holds go.mod and action.yml", filepath.Dir(dir), found)
	}
	for i, wantChanged := range []bool{true, false} {
		changed, err := UpdateReadme(dir)
		if err != nil || changed != wantChanged {
			t.Fatalf("run %d: UpdateReadme = %v, %v; want %v", i+1, changed, err, wantChanged)
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !strings.Contains(string(got), "| `a` |  | A. |\n<!-- inputs:end -->") || !strings.Contains(string(got), "| `b` | B. |\n<!-- outputs:end -->") {
		t.Errorf("README.md after UpdateReadme:\n%s", got)
	}
}

// mdLink is a Markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestMarkdownLinksResolve checks that every link from one of the
// repository's Markdown files to another file of it names a file that
// exists: moving text between the README and docs/ must not leave a link
// to nowhere.
func TestMarkdownLinksResolve(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, name := range markdownFiles(t, root) {
		md, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		inFence := false
		for n, line := range strings.Split(string(md), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inFence = !inFence
			}
			if inFence {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target, _, _ := strings.Cut(m[1], "#")
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.Dir(name), filepath.FromSlash(target))); err != nil {
					t.Errorf("%s line %d: the link to %s leads nowhere: %v", name, n+1, m[1], err)
				}
			}
		}
	}
}

// TestReadmeIsForUsers keeps the README short enough to read at one
// sitting: what maintainers need goes to docs/ and CONTRIBUTING.md.
func TestReadmeIsForUsers(t *testing.T) {
	t.Parallel()
	const limit = 16000
	fi, err := os.Stat(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > limit {
		t.Errorf("README.md is %d bytes, over %d: move what maintainers need into docs/ or CONTRIBUTING.md and link it", fi.Size(), limit)
	}
}

// TestReadmeExitCodesAreTheOutcomeTable holds the README's exit-code table
// and its precedence sentence to internal/outcome, which decides them and
// lists them for --help.
func TestReadmeExitCodesAreTheOutcomeTable(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for _, m := range regexp.MustCompile(`(?:: |, )(\d+) `).FindAllStringSubmatch(strings.Join(strings.Fields(outcome.Usage()), " "), -1) {
		n, _ := strconv.Atoi(m[1])
		codes = append(codes, n)
	}
	if len(codes) < 6 {
		t.Fatalf("outcome.Usage() lists codes %v; is this test reading it right?\n%s", codes, outcome.Usage())
	}
	var rows []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \| `).FindAllStringSubmatch(string(md), -1) {
		n, _ := strconv.Atoi(m[1])
		rows = append(rows, n)
	}
	if !slices.Equal(rows, codes) {
		t.Errorf("README.md's exit-code table has rows %v; internal/outcome has codes %v", rows, codes)
	}
	order := slices.Clone(codes)
	slices.SortStableFunc(order, outcome.Compare)
	var names []string
	for _, c := range order {
		if c != outcome.ExitOK {
			names = append(names, strconv.Itoa(c))
		}
	}
	want := "Where several apply, the first of " + strings.Join(names, ", ") + " wins."
	if !strings.Contains(strings.Join(strings.Fields(string(md)), " "), want) {
		t.Errorf("README.md does not say %q, the precedence internal/outcome decides", want)
	}
}

// docPath is a repository document named in Go source: docs/api.md,
// cmd/prism-sim/README.md.
var docPath = regexp.MustCompile(`\b((?:[a-z0-9_-]+/)*[A-Za-z0-9_-]+\.md)\b`)

// TestCodeNamesDocsThatExist checks that every Markdown file a Go file
// names (comments point at docs/api.md, docs/runner.md, …) is one of the
// repository's own, so that moving a page leaves no comment pointing at
// nothing.
func TestCodeNamesDocsThatExist(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || rel == "dist") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for n, line := range strings.Split(string(src), "\n") {
			for _, m := range docPath.FindAllStringSubmatch(line, -1) {
				name := m[1]
				if !strings.Contains(name, "/") && name != "README.md" && name != "CONTRIBUTING.md" {
					continue // a bare name that is no repository document, such as a file in a test
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(name))); err != nil {
					t.Errorf("%s line %d names %s, which the repository does not have: point it at the page that holds it now", rel, n+1, name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

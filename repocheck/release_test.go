package repocheck

// Checks of the release machinery that GitHub would otherwise find first, on
// release day: no tag moves before the image was pulled anonymously (the
// runner pulls docker:// images without credentials), every action pinned by
// commit SHA, and assets that go to a draft under the names docs/other-ci.md uses.

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// scalar reads any YAML scalar (a string, `true`, a number) as its text.
type scalar string

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a scalar", n.Line)
	}
	*s = scalar(n.Value)
	return nil
}

// needsList reads `needs:`, a job name or a list of them.
type needsList []string

func (l *needsList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = needsList{n.Value}
		return nil
	}
	var names []string
	if err := n.Decode(&names); err != nil {
		return err
	}
	*l = names
	return nil
}

type wfStep struct {
	Name            string `yaml:"name"`
	If              scalar `yaml:"if"`
	Uses            string `yaml:"uses"`
	Run             string `yaml:"run"`
	ContinueOnError scalar `yaml:"continue-on-error"`
}

type wfJob struct {
	Needs           needsList `yaml:"needs"`
	If              scalar    `yaml:"if"`
	ContinueOnError scalar    `yaml:"continue-on-error"`
	Steps           []wfStep  `yaml:"steps"`
}

type workflow struct {
	Jobs map[string]wfJob `yaml:"jobs"`
}

// stepRef names a step in problems: job, position and name.
func stepRef(job string, i int, s wfStep) string {
	name := s.Name
	if name == "" {
		name = orElse(s.Uses, firstLine(s.Run))
	}
	return fmt.Sprintf("%s step %d (%s)", job, i+1, name)
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

var (
	// A status function makes a job or step run although what it needs
	// failed; success() is the default and changes nothing.
	statusOverride = regexp.MustCompile(`\b(always|failure|cancelled)\s*\(`)
	// The commands that move or publish a tag. Every git push counts: the
	// release workflow pushes nothing but tags.
	gitTag       = regexp.MustCompile(`\bgit\s+(?:-c\s+\S+\s+)*tag\b(.*)`)
	gitPush      = regexp.MustCompile(`\bgit\s+(?:-c\s+\S+\s+)*push\b`)
	ghRelease    = regexp.MustCompile(`\bgh\s+release\s+(create|edit)\b`)
	ghAPIRefs    = regexp.MustCompile(`\bgh\s+api\b.*\bgit/(refs|tags)\b`)
	releaseUses  = regexp.MustCompile(`(action-gh-release|release-action)@`)
	logout       = regexp.MustCompile(`\bdocker\s+logout\b`)
	anonInspect  = regexp.MustCompile(`\bdocker\s+(manifest\s+inspect|buildx\s+imagetools\s+inspect)\b`)
	listTagsOnly = regexp.MustCompile(`^\s*(-l|--list)\b`)
)

// movesTag returns the commands of a step that move or publish a tag.
func movesTag(s wfStep) []string {
	var cmds []string
	if releaseUses.MatchString(s.Uses) {
		cmds = append(cmds, "uses: "+s.Uses)
	}
	for _, line := range strings.Split(s.Run, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := gitTag.FindStringSubmatch(line)
		if (m != nil && !listTagsOnly.MatchString(m[1])) ||
			gitPush.MatchString(line) || ghRelease.MatchString(line) || ghAPIRefs.MatchString(line) {
			cmds = append(cmds, line)
		}
	}
	return cmds
}

// isAnonymousPull reports a step that logs out of the registry and then
// inspects the image: what the runner's anonymous pull will see.
func isAnonymousPull(s wfStep) bool {
	out := logout.FindStringIndex(s.Run)
	in := anonInspect.FindStringIndex(s.Run)
	return out != nil && in != nil && out[0] < in[0]
}

// checkTagMoveOrder returns the tag-moving steps of a workflow, and an error
// for each one that could run although the anonymous pull check did not run
// first or failed: earlier in its own job, or in a job it needs through jobs
// that all stop when what they need fails.
func checkTagMoveOrder(raw []byte) (moves []string, err error) {
	var wf workflow
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		return nil, fmt.Errorf("parse the workflow: %w", err)
	}
	var problems []error
	type at struct {
		job  string
		step int
	}
	var checks []at
	for _, name := range slices.Sorted(maps.Keys(wf.Jobs)) {
		job := wf.Jobs[name]
		for i, s := range job.Steps {
			if !isAnonymousPull(s) {
				continue
			}
			switch {
			case s.If != "":
				problems = append(problems, fmt.Errorf("%s: the anonymous pull check has a condition (if: %s) and may be skipped", stepRef(name, i, s), s.If))
			case s.ContinueOnError != "" || job.ContinueOnError != "":
				problems = append(problems, fmt.Errorf("%s: the anonymous pull check may fail without stopping the release (continue-on-error)", stepRef(name, i, s)))
			default:
				checks = append(checks, at{name, i})
			}
		}
	}
	if len(checks) == 0 {
		problems = append(problems, errors.New("no step logs out and inspects the image anonymously"))
	}

	// guardedBy reports whether job runs only after job check succeeded.
	guardedBy := func(job, check string) bool {
		seen := map[string]bool{}
		queue := slices.Clone(wf.Jobs[job].Needs)
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			if n == check {
				return true
			}
			if seen[n] || statusOverride.MatchString(string(wf.Jobs[n].If)) {
				continue // a job that runs anyway does not carry check's failure on
			}
			seen[n] = true
			queue = append(queue, wf.Jobs[n].Needs...)
		}
		return false
	}

	for _, name := range slices.Sorted(maps.Keys(wf.Jobs)) {
		job := wf.Jobs[name]
		for i, s := range job.Steps {
			cmds := movesTag(s)
			if len(cmds) == 0 {
				continue
			}
			ref := stepRef(name, i, s)
			for _, c := range cmds {
				moves = append(moves, ref+": "+c)
			}
			why := strings.Join(cmds, "; ")
			if statusOverride.MatchString(string(s.If)) {
				problems = append(problems, fmt.Errorf("%s moves a tag even after a failed step (if: %s)", ref, s.If))
				continue
			}
			guarded := slices.ContainsFunc(checks, func(c at) bool {
				if c.job == name {
					return c.step < i
				}
				return !statusOverride.MatchString(string(job.If)) && guardedBy(name, c.job)
			})
			if !guarded {
				problems = append(problems, fmt.Errorf("%s moves a tag (%s) without the anonymous pull check succeeding before it", ref, why))
			}
		}
	}
	return moves, errors.Join(problems...)
}

var (
	pinnedUses    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@\s]+)?@[0-9a-f]{40}$`)
	pinnedDocker  = regexp.MustCompile(`^docker://[^@\s]+@sha256:[0-9a-f]{64}$`)
	versionRemark = regexp.MustCompile(`^#\s*v\d+(\.\d+){0,2}$`)
)

// checkPinned returns an error for every `uses:` that is not a local action,
// an image by digest, or owner/repo@<full commit SHA> # vX.Y.Z.
func checkPinned(raw []byte) (uses int, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return 0, fmt.Errorf("parse the workflow: %w", err)
	}
	var problems []error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value != "uses" || v.Kind != yaml.ScalarNode {
					continue
				}
				uses++
				switch {
				case strings.HasPrefix(v.Value, "./"), pinnedDocker.MatchString(v.Value):
				case !pinnedUses.MatchString(v.Value):
					problems = append(problems, fmt.Errorf("line %d: uses: %s is not pinned by a full commit SHA", v.Line, v.Value))
				case !versionRemark.MatchString(strings.TrimSpace(v.LineComment)):
					problems = append(problems, fmt.Errorf("line %d: uses: %s has no `# vX.Y.Z` comment naming the version", v.Line, v.Value))
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return uses, errors.Join(problems...)
}

func TestReleaseWorkflowMovesNoTagBeforeTheAnonymousPull(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	moves, err := checkTagMoveOrder(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The tag, the major tag and publishing the release, at least: a checker
	// that found none would pass anything.
	if len(moves) < 3 {
		t.Fatalf("found %d tag moves, want the tag push, the major tag push and the publish: %q", len(moves), moves)
	}
	for _, m := range moves {
		t.Log("after the anonymous pull:", m)
	}
}

func TestCheckTagMoveOrderCatchesBadWorkflows(t *testing.T) {
	t.Parallel()
	const pull = `docker logout ghcr.io; DOCKER_CONFIG=$(mktemp -d) docker manifest inspect "$IMAGE"`
	cases := []struct {
		name    string
		yaml    string
		wantErr string // "" when the workflow is right
	}{
		{
			name: "check, then move, in one job",
			yaml: `
jobs:
  release:
    steps:
      - run: ` + pull + `
      - run: git push origin "$SHA:refs/tags/$TAG"
      - run: gh release edit "$TAG" --draft=false`,
		},
		{
			name: "move in a job that needs the check's job through another",
			yaml: `
jobs:
  pullable:
    steps:
      - run: ` + pull + `
  binaries:
    needs: pullable
    steps:
      - run: echo build
  publish:
    needs: [binaries]
    steps:
      - run: git tag -f "$TAG" && git push -f origin "refs/tags/$TAG"`,
		},
		{
			name: "listing tags moves nothing",
			yaml: `
jobs:
  plan:
    steps:
      - run: git tag -l 'v*' | sort -V
  pullable:
    steps:
      - run: ` + pull,
		},
		{
			name: "move before the check",
			yaml: `
jobs:
  release:
    steps:
      - run: |
          git tag -f "$TAG"
          git push -f origin "refs/tags/$TAG"
      - run: ` + pull,
			wantErr: "release step 1",
		},
		{
			name: "move in a job that does not need the check",
			yaml: `
jobs:
  pullable:
    steps:
      - run: ` + pull + `
  publish:
    steps:
      - run: gh release create "$TAG"`,
			wantErr: "publish step 1",
		},
		{
			name: "move in a job that runs always()",
			yaml: `
jobs:
  pullable:
    steps:
      - run: ` + pull + `
  publish:
    needs: pullable
    if: always()
    steps:
      - run: git push origin "refs/tags/$TAG"`,
			wantErr: "publish step 1",
		},
		{
			name: "needs the check only through a job that runs anyway",
			yaml: `
jobs:
  pullable:
    steps:
      - run: ` + pull + `
  middle:
    needs: pullable
    if: ${{ !cancelled() }}
    steps:
      - run: echo
  publish:
    needs: middle
    steps:
      - run: git push origin "refs/tags/$TAG"`,
			wantErr: "publish step 1",
		},
		{
			name: "move step that runs after a failure",
			yaml: `
jobs:
  release:
    steps:
      - run: ` + pull + `
      - if: failure()
        run: git push origin "refs/tags/$TAG"`,
			wantErr: "even after a failed step",
		},
		{
			name: "check that may fail",
			yaml: `
jobs:
  release:
    steps:
      - run: ` + pull + `
        continue-on-error: true
      - run: git push origin "refs/tags/$TAG"`,
			wantErr: "continue-on-error",
		},
		{
			name: "check that may be skipped",
			yaml: `
jobs:
  release:
    steps:
      - if: github.event_name == 'workflow_dispatch'
        run: ` + pull + `
      - run: git push origin "refs/tags/$TAG"`,
			wantErr: "may be skipped",
		},
		{
			name: "inspect while still logged in",
			yaml: `
jobs:
  release:
    steps:
      - run: docker manifest inspect "$IMAGE"
      - run: git push origin "refs/tags/$TAG"`,
			wantErr: "no step logs out",
		},
		{
			name: "a release action before the check",
			yaml: `
jobs:
  release:
    steps:
      - uses: softprops/action-gh-release@0123456789abcdef0123456789abcdef01234567 # v2.0.0
      - run: ` + pull,
			wantErr: "action-gh-release",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := checkTagMoveOrder([]byte(tc.yaml))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want no problem, got: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("want a problem naming %q, got none", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("want a problem naming %q, got: %v", tc.wantErr, err)
			}
		})
	}
}

func TestWorkflowsPinEveryActionByCommitSHA(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), ".github", "workflows", "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found workflows %q, want ci.yml and release.yml at least", files)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		uses, err := checkPinned(raw)
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
		}
		if uses == 0 {
			t.Errorf("%s: no uses: found; is the checker reading it?", f)
		}
	}
}

func TestCheckPinnedCatchesUnpinnedActions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		uses    string
		wantErr string
	}{
		{"actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", ""},
		{"anchore/sbom-action/download-syft@e22c389904149dbc22b58101806040fa8d37a610 # v0.24.0", ""},
		{"./", ""},
		{"./.github/actions/local", ""},
		{"docker://alpine@sha256:" + strings.Repeat("ab", 32), ""},
		{"actions/checkout@v7", "not pinned"},
		{"actions/checkout@v7.0.1 # v7.0.1", "not pinned"},
		{"actions/checkout@3d3c42e # v7.0.1", "not pinned"},
		{"actions/checkout@main", "not pinned"},
		{"docker://alpine:3", "not pinned"},
		{"actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "no `# vX.Y.Z` comment"},
		{"actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # latest", "no `# vX.Y.Z` comment"},
	}
	for _, tc := range cases {
		t.Run(tc.uses, func(t *testing.T) {
			t.Parallel()
			raw := "jobs:\n  j:\n    steps:\n      - uses: " + tc.uses + "\n  reusable:\n    uses: ./.github/workflows/other.yml\n"
			n, err := checkPinned([]byte(raw))
			if n != 2 {
				t.Fatalf("checked %d uses, want 2", n)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("want no problem, got: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("want a problem saying %q, got: %v", tc.wantErr, err)
			}
		})
	}
}

// TestGoReleaserAssets checks what users and the release workflow rely on:
// a draft release (immutable releases are published only after the tag
// moved), plain binaries under the names of docs/other-ci.md, and SHA256SUMS.
func TestGoReleaserAssets(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			Env     []string `yaml:"env"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
		Archives []struct {
			Formats      []string `yaml:"formats"`
			NameTemplate string   `yaml:"name_template"`
		} `yaml:"archives"`
		Checksum struct {
			NameTemplate string `yaml:"name_template"`
			Algorithm    string `yaml:"algorithm"`
		} `yaml:"checksum"`
		Release struct {
			Draft bool `yaml:"draft"`
		} `yaml:"release"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.Release.Draft {
		t.Error("release.draft is not true: with immutable releases, publishing before the tag moves locks the tag")
	}
	if len(cfg.Builds) != 1 || !slices.Contains(cfg.Builds[0].Env, "CGO_ENABLED=0") {
		t.Errorf("builds: want one build with CGO_ENABLED=0, got %+v", cfg.Builds)
	}
	if len(cfg.Builds) == 1 && !slices.ContainsFunc(cfg.Builds[0].Ldflags, func(f string) bool {
		return strings.Contains(f, "-X main.version=v{{ .Version }}")
	}) {
		t.Errorf("builds[0].ldflags %q do not stamp main.version=v{{ .Version }}", cfg.Builds[0].Ldflags)
	}
	if len(cfg.Archives) != 1 || !slices.Equal(cfg.Archives[0].Formats, []string{"binary"}) ||
		cfg.Archives[0].NameTemplate != "prism-wait_{{ .Os }}_{{ .Arch }}" {
		t.Errorf("archives: want plain binaries named prism-wait_{{ .Os }}_{{ .Arch }} (the download lines of docs/other-ci.md), got %+v", cfg.Archives)
	}
	if cfg.Checksum.NameTemplate != "SHA256SUMS" || cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum: want SHA256SUMS with sha256, got %+v", cfg.Checksum)
	}
}

// TestDownloadLinesUseTheReleaseNames holds the download lines users copy
// (docs/other-ci.md) to the names TestGoReleaserAssets holds the release
// to: prism-wait_<os>_<arch>, checked against SHA256SUMS.
func TestDownloadLinesUseTheReleaseNames(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "other-ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, want := range []string{
		"`prism-wait_<os>_<arch>`",
		"bin=prism-wait_linux_$(uname -m",
		"bin=prism-wait_linux_$$(uname -m",
		"bin=prism-wait_$(uname -s",
		"releases/download/$PRISM_WAIT_VERSION",
		"/SHA256SUMS",
		"sha256sum -c",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/other-ci.md no longer has %q: its download lines must name the release's assets (prism-wait_<os>_<arch>, SHA256SUMS) and check them", want)
		}
	}
}

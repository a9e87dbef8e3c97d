package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// runnerEnv is the environment the runner builds from action.yml: every
// input present, "" where the workflow gave none.
func runnerEnv(set map[string]string) func(string) string {
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "INPUT_GENERATION_ID": "", "INPUT_API_KEY": "", "INPUT_BASE_URL": "",
		"INPUT_TIMEOUT": "", "INPUT_POLL_INTERVAL": "", "INPUT_MAX_INTERVAL": "", "INPUT_DOWNLOAD_DIR": "",
	}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func load(t *testing.T, getenv func(string) string, args ...string) (Config, error) {
	t.Helper()
	return Load(context.Background(), getenv, args, t.TempDir(), io.Discard)
}

func TestEmptyInputsTakeTheDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": "prism_sk_x"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL.String() != "https://prismvideos.com/api" || c.Timeout != 10*time.Minute ||
		c.PollInterval != 5*time.Second || c.MaxInterval != time.Minute || c.DownloadDir != "" || !c.GitHub {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	getenv := runnerEnv(map[string]string{
		"INPUT_GENERATION_ID": "gen_input", "PRISM_GENERATION_ID": "gen_env",
		"INPUT_API_KEY": "", "PRISM_API_KEY": "prism_sk_env", // an omitted input falls back to PRISM_*
		"PRISM_TIMEOUT": "2m", "INPUT_TIMEOUT": "3m",
	})
	c, err := load(t, getenv, "--timeout", "4m")
	if err != nil {
		t.Fatal(err)
	}
	if c.IDs[0] != "gen_input" || c.APIKey != "prism_sk_env" || c.Timeout != 4*time.Minute {
		t.Errorf("got IDs %v key %q timeout %s", c.IDs, c.APIKey, c.Timeout)
	}
}

func TestFlagsAndPositionalIDs(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string { return map[string]string{"PRISM_API_KEY": "prism_sk_x"}[k] }
	c, err := load(t, getenv, "gen_a", "--poll-interval=2", "gen_b", "--", "gen_c")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.IDs, []string{"gen_a", "gen_b", "gen_c"}) || c.PollInterval != 2*time.Second || c.GitHub {
		t.Errorf("got %+v", c)
	}
	if _, err := load(t, getenv, "--help"); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if _, err := load(t, getenv, "--version"); !errors.Is(err, ErrVersion) {
		t.Errorf("--version: %v", err)
	}
	if _, err := load(t, getenv, "--nope"); err == nil || !strings.Contains(err.Error(), "--help") {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestAllBadInputsAreReportedAtOnce(t *testing.T) {
	t.Parallel()
	_, err := load(t, runnerEnv(map[string]string{
		"INPUT_GENERATION_ID": "gen_ok ../etc/passwd", "INPUT_TIMEOUT": "soon", "INPUT_POLL_INTERVAL": "0",
		"INPUT_BASE_URL": "http://prism.example.com/api", "INPUT_DOWNLOAD_DIR": "../outside",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, input := range []string{"generation_id:", "api_key:", "timeout:", "poll_interval:", "base_url:", "download_dir:"} {
		if !strings.Contains(err.Error(), input) {
			t.Errorf("error does not name %s:\n%v", input, err)
		}
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	c, err := load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": " prism_sk_x\n"}))
	if err != nil || c.APIKey != "prism_sk_x" {
		t.Errorf("surrounding whitespace of a secret must be trimmed: %q, %v", c.APIKey, err)
	}
	c, err = load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": "prism_sk_a\nprism_sk_b"}))
	if err == nil || strings.Contains(err.Error(), "prism_sk_a") {
		t.Errorf("a key with a line break must be refused without being shown: %v", err)
	}
	if c.APIKey == "" {
		t.Error("the key must come back even on error, so that it can be masked")
	}
}

func TestParseIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"gen_1", []string{"gen_1"}, ""},
		{"gen_1,gen_2 gen_3\ngen_4\r\n\tgen-5", []string{"gen_1", "gen_2", "gen_3", "gen_4", "gen-5"}, ""},
		{"gen_b gen_a gen_b", []string{"gen_b", "gen_a"}, ""},
		{"  ,\n ", nil, "required"},
		{"gen_1 ../admin", nil, `"../admin" is not a generation ID`},
		{"gen%2F..", nil, "not a generation ID"},
		{"gen?x=1", nil, "not a generation ID"},
		{"gén", nil, "not a generation ID"},
		{strings.Repeat("a", 129), nil, "not a generation ID"},
		{strings.Repeat("g ", 50) + strings.Join(func() []string {
			var s []string
			for i := 0; i < 101; i++ {
				s = append(s, "gen_"+strings.Repeat("x", i+1))
			}
			return s
		}(), " "), nil, "at most 100"},
	} {
		got, err := ParseIDs(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseIDs(%.40q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseIDs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"90s": 90 * time.Second, "2m": 2 * time.Minute, "500ms": 500 * time.Millisecond,
		"30": 30 * time.Second, "1.5": 1500 * time.Millisecond, " 10m ": 10 * time.Minute,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0s", "-1s", "-3", "soon", "NaN", "Inf", "1e300", "5 minutes"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %s, want an error", in, got)
		}
	}
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://prismvideos.com/api":      "https://prismvideos.com/api",
		"https://www.prismvideos.com/api/": "https://www.prismvideos.com/api",
		"http://127.0.0.1:8787/api":        "http://127.0.0.1:8787/api",
		"http://localhost:8787/api":        "http://localhost:8787/api",
		"http://[::1]:8787/api":            "http://[::1]:8787/api",
		"http://172.17.0.1:8787/api":       "http://172.17.0.1:8787/api",
	} {
		got, err := ParseBaseURL(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{
		"http://prismvideos.com/api", "http://8.8.8.8/api", "ftp://prismvideos.com", "prismvideos.com/api",
		"https://user:pw@prismvideos.com/api", "https://prismvideos.com/api?x=1", "https://prismvideos.com/api#f", "",
	} {
		if got, err := ParseBaseURL(in); err == nil {
			t.Errorf("ParseBaseURL(%q) = %v, want an error", in, got)
		}
	}
}

func TestDownloadDirStaysInTheWorkspace(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(ws, "link")); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		"videos":                 filepath.Join(ws, "videos"),
		"./out/videos/":          filepath.Join(ws, "out", "videos"),
		".":                      ws,
		filepath.Join(ws, "abs"): filepath.Join(ws, "abs"),
		"a/../b":                 filepath.Join(ws, "b"),
	} {
		if got, err := Within(ws, dir); err != nil || got != want {
			t.Errorf("Within(%q) = %q, %v; want %q", dir, got, err, want)
		}
	}
	for _, dir := range []string{"..", "../x", "/tmp", outside, "link", "link/deeper/still"} {
		if got, err := Within(ws, dir); err == nil {
			t.Errorf("Within(%q) = %q, want it refused", dir, got)
		}
	}
}

func TestWorkspaceIsGitHubWorkspace(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	c, err := load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "g", "INPUT_API_KEY": "k", "GITHUB_WORKSPACE": ws, "INPUT_DOWNLOAD_DIR": "v"}))
	if err != nil || c.Workspace != ws || c.DownloadDir != filepath.Join(ws, "v") {
		t.Errorf("got %+v, %v", c, err)
	}
}

func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"gen_1", "a,b\nc", "../x", "a a a", " , ", "gen_\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseIDs(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !validID(id) || seen[id] || id == "" {
				t.Fatalf("ParseIDs(%q) returned %q", s, id)
			}
			seen[id] = true
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"5s", "30", "1.5", "-1", "1e9", "0x10", "9223372036s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d <= 0 {
			t.Fatalf("ParseDuration(%q) = %s without error", s, d)
		}
	})
}

func FuzzLoadArgs(f *testing.F) {
	for _, s := range []string{"gen_a --timeout 1m", "-- --x", "--help", "a -- b --", "--base-url= x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		getenv := func(k string) string { return map[string]string{"PRISM_API_KEY": "prism_sk_x"}[k] }
		c, err := Load(context.Background(), getenv, strings.Split(s, " "), "/ws", io.Discard)
		if err == nil && (len(c.IDs) == 0 || c.BaseURL == nil || c.Timeout <= 0 || c.PollInterval <= 0 || c.MaxInterval < c.PollInterval) {
			t.Fatalf("accepted an invalid config from %q: %+v", s, c)
		}
	})
}

// TestActionYMLDefaultsAreTheCodes: the runner passes action.yml's
// defaults, `uses: docker://…` and the CLI get the code's. They must agree.
func TestActionYMLDefaultsAreTheCodes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default *string `yaml:"default"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": "prism_sk_x"}
	for name, in := range a.Inputs {
		if in.Default != nil {
			set["INPUT_"+strings.ToUpper(name)] = *in.Default
		}
	}
	fromYML, err := load(t, runnerEnv(set))
	if err != nil {
		t.Fatal(err)
	}
	fromCode, err := load(t, func(k string) string {
		return map[string]string{"PRISM_GENERATION_ID": "gen_1", "PRISM_API_KEY": "prism_sk_x"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	fromYML.GitHub, fromYML.Workspace, fromCode.Workspace = false, "", ""
	if fmt.Sprintf("%+v", fromYML) != fmt.Sprintf("%+v", fromCode) {
		t.Errorf("action.yml's defaults give\n%+v\nthe code's give\n%+v", fromYML, fromCode)
	}
}
